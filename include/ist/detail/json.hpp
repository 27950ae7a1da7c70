#pragma once
// The JSON the model files need (architecture.json): objects with ordered keys, arrays, strings,
// numbers, booleans and null, parsed by nlohmann::json (Debian's nlohmann-json3-dev) into a Value
// whose numbers keep their literal text, so integers up to 2^64 and floats read back exactly. No
// comments, no trailing commas, no duplicate keys. The writer stays here: it writes each float as
// the shortest text that reads back to the same float (nlohmann writes the double's shortest text,
// 9.999999747378752e-06 for the float 1e-05) and one layer per line.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ist/core/error.hpp"

namespace ist::detail::json {

struct Member;

/// One JSON value. Objects keep their members in insertion order, so a written file reads in
/// the order its writer chose.
struct Value {
    enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
    bool flag = false;
    std::string text;  ///< a string's characters, or a number's literal
    std::vector<Value> items;
    std::vector<Member> members;

    static Value make(Kind kind, bool flag = false, std::string text = {}) {
        Value v;
        v.kind = kind, v.flag = flag, v.text = std::move(text);
        return v;
    }
    static Value object() { return make(Kind::Object); }
    static Value array() { return make(Kind::Array); }
    static Value string(std::string s) { return make(Kind::String, false, std::move(s)); }
    static Value boolean(bool b) { return make(Kind::Bool, b); }
    template <class T>
        requires std::is_arithmetic_v<T> && (!std::is_same_v<T, bool>)
    static Value number(T x) {
        char buf[64];
        const auto [end, error] = std::to_chars(buf, buf + sizeof buf, x);  // shortest text that reads back
        require(error == std::errc(), "json: cannot format a number");
        return make(Kind::Number, false, std::string(buf, end));
    }

    /// Appends member `key` (objects only) and returns *this, for chaining.
    Value& set(std::string key, Value v);
    /// The member `key`, or nullptr.
    const Value* find(std::string_view key) const;
};

struct Member {
    std::string key;
    Value value;
};

inline Value& Value::set(std::string key, Value v) {
    members.push_back({std::move(key), std::move(v)});
    return *this;
}

inline const Value* Value::find(std::string_view key) const {
    for (const Member& m : members)
        if (m.key == key) return &m.value;
    return nullptr;
}

namespace write_detail {
inline void quote(const std::string& s, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (c == '\n') out += "\\n";
        else if (static_cast<unsigned char>(c) < 0x20) out += "\\u00", out += kHex[(c >> 4) & 0xf], out += kHex[c & 0xf];
        else out += c;
    }
    out += '"';
}

inline void write(const Value& v, int depth, std::string& out) {
    const std::string pad(static_cast<std::size_t>(2 * (depth + 1)), ' '), close(static_cast<std::size_t>(2 * depth), ' ');
    switch (v.kind) {
    case Value::Kind::Null: out += "null"; return;
    case Value::Kind::Bool: out += v.flag ? "true" : "false"; return;
    case Value::Kind::Number: out += v.text; return;
    case Value::Kind::String: quote(v.text, out); return;
    case Value::Kind::Array:
        out += '[';
        for (std::size_t i = 0; i < v.items.size(); ++i) {
            out += (i ? ",\n" : "\n") + pad;
            write(v.items[i], depth + 1, out);
        }
        out += v.items.empty() ? "]" : "\n" + close + "]";
        return;
    case Value::Kind::Object:
        out += '{';
        for (std::size_t i = 0; i < v.members.size(); ++i) {
            out += (i ? ", " : "");
            quote(v.members[i].key, out);
            out += ": ";
            write(v.members[i].value, depth + 1, out);
        }
        out += '}';
        return;
    }
}
}  // namespace write_detail

/// The text of `v`: arrays one item per line, objects on one line (a layer per line reads well).
inline std::string dump(const Value& v) {
    std::string out;
    write_detail::write(v, 0, out);
    return out + '\n';
}

/// Builds a Value from nlohmann::json's SAX events (Debian's nlohmann-json3-dev parses; strict
/// RFC 8259: no comments, no trailing commas). Numbers keep their literal text, so the shortest
/// float texts the writer chose and 64-bit integers read back exactly (integers are the only numbers
/// nlohmann hands over without their text: their decimal form is the literal, "-0" aside, which
/// reads back the same); keys keep their order. A duplicate key or nesting deeper than kMaxDepth
/// is refused. Every error is a DataError naming `source`.
class ValueBuilder {
public:
    static constexpr std::size_t kMaxDepth = 64;  // a model file nests a few levels; deeper is malicious

    explicit ValueBuilder(std::string source) : source_(std::move(source)) {}

    bool null() { return add(Value{}); }
    bool boolean(bool b) { return add(Value::boolean(b)); }
    bool number_integer(nlohmann::json::number_integer_t x) { return add(Value::number(x)); }
    bool number_unsigned(nlohmann::json::number_unsigned_t x) { return add(Value::number(x)); }
    bool number_float(nlohmann::json::number_float_t, const std::string& text) {
        return add(Value::make(Value::Kind::Number, false, text));
    }
    bool string(std::string& s) { return add(Value::string(std::move(s))); }
    bool binary(nlohmann::json::binary_t&) { return false; }  // JSON text has none
    bool start_object(std::size_t) { return open(Value::object()); }
    bool key(std::string& k) {
        if (open_.back()->find(k)) throw DataError(source_ + ": malformed JSON: duplicate key '" + k + "'");
        key_ = std::move(k);
        return true;
    }
    bool end_object() { return close(); }
    bool start_array(std::size_t) { return open(Value::array()); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::json::exception& e) {
        // what() is "[json.exception.parse_error.101] parse error at line 1, column 78: syntax error ...".
        const std::string what = e.what();
        const std::size_t column = what.find("column ");
        const std::size_t detail = column == std::string::npos ? std::string::npos : what.find(": ", column);
        // nlohmann counts the characters read, the offending one included: its 0-based offset is one less.
        throw DataError(source_ + ": malformed JSON at offset " + std::to_string(position > 0 ? position - 1 : 0) + ": " +
                        (detail == std::string::npos ? what : what.substr(detail + 2)));
    }

    Value take() { return std::move(root_); }

private:
    /// Puts `v` where the parse is: the root, the next item of an array, the value of the last key.
    Value* add(Value v) {
        if (open_.empty()) return &(root_ = std::move(v));
        Value& parent = *open_.back();
        if (parent.kind == Value::Kind::Array) return &parent.items.emplace_back(std::move(v));
        parent.set(std::move(key_), std::move(v));
        return &parent.members.back().value;
    }
    /// Only the innermost open container grows, so the pointers to its ancestors stay valid.
    bool open(Value v) {
        if (open_.size() >= kMaxDepth)
            throw DataError(source_ + ": malformed JSON: nested deeper than " + std::to_string(kMaxDepth) + " levels");
        open_.push_back(add(std::move(v)));
        return true;
    }
    bool close() {
        open_.pop_back();
        return true;
    }

    std::string source_, key_;
    Value root_;
    std::vector<Value*> open_;
};

/// Parses `text`; `source` names it in error messages.
inline Value parse(std::string_view text, const std::string& source) {
    ValueBuilder builder(source);
    nlohmann::json::sax_parse(text, &builder, nlohmann::json::input_format_t::json, true);
    return builder.take();
}

/// Reads one JSON object's fields by name, each error naming `where` and the key, and refuses
/// keys nobody read (finish()), so a misspelt option is an error, not a silent default.
class Fields {
public:
    Fields(const Value& object, std::string where) : object_(object), where_(std::move(where)) {
        if (object.kind != Value::Kind::Object) throw DataError(where_ + ": expected a JSON object");
    }

    const std::string& where() const { return where_; }
    bool has(std::string_view key) const { return object_.find(key) != nullptr; }

    const Value& value(const std::string& key) {
        const Value* v = object_.find(key);
        if (!v) throw DataError(where_ + ": missing key '" + key + "'");
        read_.push_back(key);
        return *v;
    }
    std::string text(const std::string& key) {
        const Value& v = value(key);
        if (v.kind != Value::Kind::String) throw DataError(where_ + ": '" + key + "' is not a string");
        return v.text;
    }
    bool flag(const std::string& key) {
        const Value& v = value(key);
        if (v.kind != Value::Kind::Bool) throw DataError(where_ + ": '" + key + "' is not true or false");
        return v.flag;
    }
    template <class T>
        requires std::is_arithmetic_v<T> && (!std::is_same_v<T, bool>)
    T number(const std::string& key) {
        const Value& v = value(key);
        T x{};
        const char* end = v.text.data() + v.text.size();
        const auto [stop, error] = v.kind == Value::Kind::Number ? std::from_chars(v.text.data(), end, x)
                                                                 : std::from_chars_result{v.text.data(), std::errc::invalid_argument};
        if (error != std::errc() || stop != end)
            throw DataError(where_ + ": '" + key + "' is not " + (std::is_integral_v<T> ? "a non-negative integer" : "a number") +
                            (v.kind == Value::Kind::Number ? " (" + v.text + ")" : ""));
        return x;
    }
    std::size_t count(const std::string& key) { return number<std::size_t>(key); }

    /// Throws DataError naming the first key no accessor read.
    void finish() const {
        for (const Member& m : object_.members)
            if (std::find(read_.begin(), read_.end(), m.key) == read_.end())
                throw DataError(where_ + ": unknown key '" + m.key + "'");
    }

private:
    const Value& object_;
    std::string where_;
    std::vector<std::string> read_;
};

}  // namespace ist::detail::json
