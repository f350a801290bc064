// Aeron's C client (libaeron.so), loaded at run time from an Aeron build or install: Aeron is not
// in Debian, so kbus_compare neither needs its headers to build nor its library to run. Only
// what the Aeron peer calls is declared here, by the C API's documented signatures (aeronc.h);
// the client's structs stay opaque pointers, except the buffer claim, which the API fills in.
#pragma once

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace kbus::compare::aeron_c {

// Opaque handles of the C client.
using Context = void;
using Client = void;
using Publication = void;
using ExclusivePublication = void;
using Subscription = void;
using AsyncAdd = void;
using Header = void;
using FragmentAssembler = void;

// aeron_buffer_claim_t: where try_claim leaves the frame to write.
struct BufferClaim {
    std::uint8_t* frame_header;
    std::uint8_t* data;
    std::size_t length;
};

// Negative results of offer and try_claim that mean "try again" (aeronc.h).
constexpr std::int64_t not_connected = -1;
constexpr std::int64_t back_pressured = -2;
constexpr std::int64_t admin_action = -3;

using FragmentHandler = void (*)(void* clientd, const std::uint8_t* buffer, std::size_t length,
                                 Header* header);
using ImageHandler = void (*)(void* clientd, Subscription* subscription, void* image);
using ReservedValueSupplier = std::int64_t (*)(void* clientd, std::uint8_t* buffer,
                                               std::size_t frame_length);

// The functions, looked up by name once; a missing one makes the library unusable, said so.
struct Library {
    int (*context_init)(Context** context);
    int (*context_set_dir)(Context* context, const char* dir);
    int (*context_close)(Context* context);
    int (*init)(Client** client, Context* context);
    int (*start)(Client* client);
    int (*close)(Client* client);
    const char* (*errmsg)();

    int (*async_add_publication)(AsyncAdd** async, Client* client, const char* uri,
                                 std::int32_t stream_id);
    int (*async_add_publication_poll)(Publication** publication, AsyncAdd* async);
    int (*async_add_exclusive_publication)(AsyncAdd** async, Client* client, const char* uri,
                                           std::int32_t stream_id);
    int (*async_add_exclusive_publication_poll)(ExclusivePublication** publication,
                                                AsyncAdd* async);
    int (*async_add_subscription)(AsyncAdd** async, Client* client, const char* uri,
                                  std::int32_t stream_id, ImageHandler on_available,
                                  void* available_clientd, ImageHandler on_unavailable,
                                  void* unavailable_clientd);
    int (*async_add_subscription_poll)(Subscription** subscription, AsyncAdd* async);

    std::int64_t (*publication_offer)(Publication* publication, const std::uint8_t* buffer,
                                      std::size_t length, ReservedValueSupplier supplier,
                                      void* clientd);
    std::int64_t (*publication_try_claim)(Publication* publication, std::size_t length,
                                          BufferClaim* claim);
    bool (*publication_is_connected)(Publication* publication);
    std::int64_t (*exclusive_publication_offer)(ExclusivePublication* publication,
                                                const std::uint8_t* buffer, std::size_t length,
                                                ReservedValueSupplier supplier, void* clientd);
    std::int64_t (*exclusive_publication_try_claim)(ExclusivePublication* publication,
                                                    std::size_t length, BufferClaim* claim);
    bool (*exclusive_publication_is_connected)(ExclusivePublication* publication);
    int (*buffer_claim_commit)(BufferClaim* claim);

    int (*subscription_poll)(Subscription* subscription, FragmentHandler handler, void* clientd,
                             std::size_t fragment_limit);
    bool (*subscription_is_connected)(Subscription* subscription);
    int (*fragment_assembler_create)(FragmentAssembler** assembler, FragmentHandler delegate,
                                     void* delegate_clientd);
    FragmentHandler fragment_assembler_handler;

    // Loads `path` (libaeron.so); throws std::runtime_error naming what is missing.
    static Library load(const std::string& path) {
        void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) throw std::runtime_error(std::string("dlopen: ") + ::dlerror());
        Library l{};
        bind(handle, l.context_init, "aeron_context_init");
        bind(handle, l.context_set_dir, "aeron_context_set_dir");
        bind(handle, l.context_close, "aeron_context_close");
        bind(handle, l.init, "aeron_init");
        bind(handle, l.start, "aeron_start");
        bind(handle, l.close, "aeron_close");
        bind(handle, l.errmsg, "aeron_errmsg");
        bind(handle, l.async_add_publication, "aeron_async_add_publication");
        bind(handle, l.async_add_publication_poll, "aeron_async_add_publication_poll");
        bind(handle, l.async_add_exclusive_publication, "aeron_async_add_exclusive_publication");
        bind(handle, l.async_add_exclusive_publication_poll,
             "aeron_async_add_exclusive_publication_poll");
        bind(handle, l.async_add_subscription, "aeron_async_add_subscription");
        bind(handle, l.async_add_subscription_poll, "aeron_async_add_subscription_poll");
        bind(handle, l.publication_offer, "aeron_publication_offer");
        bind(handle, l.publication_try_claim, "aeron_publication_try_claim");
        bind(handle, l.publication_is_connected, "aeron_publication_is_connected");
        bind(handle, l.exclusive_publication_offer, "aeron_exclusive_publication_offer");
        bind(handle, l.exclusive_publication_try_claim, "aeron_exclusive_publication_try_claim");
        bind(handle, l.exclusive_publication_is_connected,
             "aeron_exclusive_publication_is_connected");
        bind(handle, l.buffer_claim_commit, "aeron_buffer_claim_commit");
        bind(handle, l.subscription_poll, "aeron_subscription_poll");
        bind(handle, l.subscription_is_connected, "aeron_subscription_is_connected");
        bind(handle, l.fragment_assembler_create, "aeron_fragment_assembler_create");
        bind(handle, l.fragment_assembler_handler, "aeron_fragment_assembler_handler");
        return l;  // the handle stays open for the process's life
    }

  private:
    template <typename F>
    static void bind(void* handle, F& f, const char* name) {
        f = reinterpret_cast<F>(::dlsym(handle, name));
        if (f == nullptr)
            throw std::runtime_error(std::string("libaeron has no ") + name +
                                     " (an Aeron C client of 1.40 or later is needed)");
    }
};

}  // namespace kbus::compare::aeron_c
