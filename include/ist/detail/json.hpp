#pragma once
// The small, strict JSON the model files need (architecture.json): objects with ordered keys,
// arrays, strings, numbers, booleans and null. Numbers keep their literal text, so integers up to
// 2^64 and floats read back exactly. No comments, no trailing commas, no duplicate keys.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

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

/// Recursive-descent parser; every error is a DataError "<source>: malformed JSON at offset N: ...".
class Parser {
public:
    Parser(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

    Value parse_document() {
        Value v = parse_value(0);
        skip_space();
        if (at_ < text_.size()) fail("unexpected text after the value");
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;  // a model file nests a few levels; deeper is malicious

    [[noreturn]] void fail(const std::string& what) const {
        throw DataError(source_ + ": malformed JSON at offset " + std::to_string(at_) + ": " + what);
    }
    void skip_space() {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\r' || text_[at_] == '\t')) ++at_;
    }
    bool take(char c) {
        skip_space();
        if (at_ < text_.size() && text_[at_] == c) return ++at_, true;
        return false;
    }
    void expect(char c) {
        if (!take(c)) fail(std::string("expected '") + c + "'");
    }
    bool take_word(std::string_view word) {
        if (text_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }

    Value parse_value(int depth) {
        if (depth > kMaxDepth) fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
        skip_space();
        if (at_ >= text_.size()) fail("unexpected end of text");
        const char c = text_[at_];
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') return Value::string(parse_string());
        if (take_word("true")) return Value::boolean(true);
        if (take_word("false")) return Value::boolean(false);
        if (take_word("null")) return Value{};
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        fail(std::string("unexpected character '") + c + "'");
    }

    Value parse_object(int depth) {
        Value v = Value::object();
        ++at_;
        if (take('}')) return v;
        do {
            skip_space();
            if (at_ >= text_.size() || text_[at_] != '"') fail("expected a key string");
            std::string key = parse_string();
            if (v.find(key)) fail("duplicate key '" + key + "'");
            expect(':');
            v.set(std::move(key), parse_value(depth + 1));
        } while (take(','));
        expect('}');
        return v;
    }

    Value parse_array(int depth) {
        Value v = Value::array();
        ++at_;
        if (take(']')) return v;
        do v.items.push_back(parse_value(depth + 1));
        while (take(','));
        expect(']');
        return v;
    }

    std::string parse_string() {
        std::string out;
        ++at_;  // the opening quote
        while (at_ < text_.size() && text_[at_] != '"') {
            const char c = text_[at_++];
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= text_.size()) break;
            const char e = text_[at_++];
            if (e == 'u') out += parse_escape();
            else if (e == 'n') out += '\n';
            else if (e == 't') out += '\t';
            else if (e == '"' || e == '\\' || e == '/') out += e;
            else fail(std::string("unknown escape '\\") + e + "'");
        }
        if (at_ >= text_.size()) fail("unterminated string");
        ++at_;
        return out;
    }

    // \u00XX only: the writer escapes nothing else, and names are ASCII.
    char parse_escape() {
        unsigned code = 0;
        const auto [end, error] = std::from_chars(text_.data() + at_, text_.data() + std::min(at_ + 4, text_.size()), code, 16);
        if (error != std::errc() || end != text_.data() + at_ + 4 || code > 0x7f) fail("unsupported \\u escape (ASCII only)");
        at_ += 4;
        return static_cast<char>(code);
    }

    Value parse_number() {
        const std::size_t start = at_;
        if (text_[at_] == '-') ++at_;
        const auto digits = [&] {
            const std::size_t from = at_;
            while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
            if (at_ == from) fail("expected a digit");
        };
        digits();
        if (at_ < text_.size() && text_[at_] == '.') ++at_, digits();
        if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
            ++at_;
            if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
            digits();
        }
        return Value::make(Value::Kind::Number, false, std::string(text_.substr(start, at_ - start)));
    }

    std::string_view text_;
    std::string source_;
    std::size_t at_ = 0;
};

/// Parses `text`; `source` names it in error messages.
inline Value parse(std::string_view text, const std::string& source) { return Parser(text, source).parse_document(); }

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
