#include "kafka/message.hpp"

#include <stdexcept>

namespace kbus::kafka {

Value Value::object_of(const schema::Struct& s) {
    Value v;
    v.kind_ = Kind::object;
    v.struct_ = &s;
    v.items_.reserve(s.fields.size());
    for (const schema::Field& f : s.fields)
        v.items_.push_back(default_of(f));
    return v;
}

Value Value::default_of(const schema::Field& f) {
    Value v;
    v.field_ = &f;
    if (f.default_null) return v;
    if (f.is_array) {
        v.kind_ = Kind::array;
        return v;
    }
    switch (f.type) {
        case schema::Type::object: {
            Value o = object_of(*f.element);
            o.field_ = &f;
            return o;
        }
        case schema::Type::string:
        case schema::Type::bytes:
        case schema::Type::records:
            v.kind_ = Kind::text;
            return v;
        case schema::Type::uuid:
            v.kind_ = Kind::uuid;
            return v;
        case schema::Type::float64:
            v.kind_ = Kind::real;
            return v;
        default:
            v.kind_ = Kind::integer;
            v.integer_ = f.default_int;
            return v;
    }
}

std::size_t Value::index_of(std::string_view name) const {
    if (kind_ != Kind::object || struct_ == nullptr)
        throw std::logic_error("field " + std::string(name) +
                               " asked of a value that is no struct");
    for (std::size_t i = 0; i < struct_->fields.size(); ++i)
        if (struct_->fields[i].name == name) return i;
    throw std::logic_error(std::string(struct_->name) + " has no field " + std::string(name));
}

Value& Value::operator[](std::string_view name) {
    return items_[index_of(name)];
}

const Value& Value::operator[](std::string_view name) const {
    return items_[index_of(name)];
}

Value& Value::add() {
    if (field_ == nullptr || !field_->is_array)
        throw std::logic_error("add() on a value that is no array");
    kind_ = Kind::array;
    Value e;
    if (field_->type == schema::Type::object) {
        e = object_of(*field_->element);
    } else {
        schema::Field scalar = *field_;
        scalar.is_array = false;
        scalar.default_null = false;
        e = default_of(scalar);
        e.field_ = nullptr;
    }
    items_.push_back(std::move(e));
    return items_.back();
}

Value& Value::set(std::int64_t v) noexcept {
    kind_ = Kind::integer;
    integer_ = v;
    return *this;
}

Value& Value::set_real(double v) noexcept {
    kind_ = Kind::real;
    real_ = v;
    return *this;
}

Value& Value::set_text(std::string v) {
    kind_ = Kind::text;
    owned_ = std::move(v);
    owns_text_ = true;
    return *this;
}

Value& Value::set_view(std::string_view v) noexcept {
    kind_ = Kind::text;
    view_ = v;
    owns_text_ = false;
    return *this;
}

Value& Value::set_uuid(const Uuid& v) noexcept {
    kind_ = Kind::uuid;
    uuid_ = v;
    return *this;
}

Value& Value::set_null() noexcept {
    kind_ = Kind::null;
    items_.clear();
    return *this;
}

Value& Value::set_array() noexcept {
    kind_ = Kind::array;
    return *this;
}

Value& Value::set_extent(std::uint64_t length, std::size_t index) noexcept {
    kind_ = Kind::extent;
    integer_ = std::int64_t(length);
    extent_index_ = index;
    return *this;
}

}  // namespace kbus::kafka
