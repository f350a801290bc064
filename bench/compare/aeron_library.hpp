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

// One kind of publication's functions: the concurrent and the exclusive ones take the same
// arguments (opaque handles), so a side picks its kind once and calls through this.
struct PublicationApi {
    int (*async_add)(AsyncAdd** async, Client* client, const char* uri, std::int32_t stream_id);
    int (*async_add_poll)(Publication** publication, AsyncAdd* async);
    std::int64_t (*offer)(Publication* publication, const std::uint8_t* buffer, std::size_t length,
                          ReservedValueSupplier supplier, void* clientd);
    std::int64_t (*try_claim)(Publication* publication, std::size_t length, BufferClaim* claim);
    bool (*is_connected)(Publication* publication);
};

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

    [[nodiscard]] PublicationApi publication_api(bool exclusive) const noexcept {
        if (exclusive)
            return {async_add_exclusive_publication, async_add_exclusive_publication_poll,
                    exclusive_publication_offer, exclusive_publication_try_claim,
                    exclusive_publication_is_connected};
        return {async_add_publication, async_add_publication_poll, publication_offer,
                publication_try_claim, publication_is_connected};
    }

    // Loads `path` (libaeron.so); throws std::runtime_error naming what is missing.
    static Library load(const std::string& path) {
        void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) throw std::runtime_error(std::string("dlopen: ") + ::dlerror());
        Library l{};
        // Each field is named after its function, less the "aeron_" prefix.
#define KBUS_AERON_BIND(field) bind(handle, l.field, "aeron_" #field)
        KBUS_AERON_BIND(context_init);
        KBUS_AERON_BIND(context_set_dir);
        KBUS_AERON_BIND(context_close);
        KBUS_AERON_BIND(init);
        KBUS_AERON_BIND(start);
        KBUS_AERON_BIND(close);
        KBUS_AERON_BIND(errmsg);
        KBUS_AERON_BIND(async_add_publication);
        KBUS_AERON_BIND(async_add_publication_poll);
        KBUS_AERON_BIND(async_add_exclusive_publication);
        KBUS_AERON_BIND(async_add_exclusive_publication_poll);
        KBUS_AERON_BIND(async_add_subscription);
        KBUS_AERON_BIND(async_add_subscription_poll);
        KBUS_AERON_BIND(publication_offer);
        KBUS_AERON_BIND(publication_try_claim);
        KBUS_AERON_BIND(publication_is_connected);
        KBUS_AERON_BIND(exclusive_publication_offer);
        KBUS_AERON_BIND(exclusive_publication_try_claim);
        KBUS_AERON_BIND(exclusive_publication_is_connected);
        KBUS_AERON_BIND(buffer_claim_commit);
        KBUS_AERON_BIND(subscription_poll);
        KBUS_AERON_BIND(subscription_is_connected);
        KBUS_AERON_BIND(fragment_assembler_create);
        KBUS_AERON_BIND(fragment_assembler_handler);
#undef KBUS_AERON_BIND
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
