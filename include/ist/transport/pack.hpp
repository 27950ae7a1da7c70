#pragma once
// What travels, as bytes: a list of tensors flattened one after the other (each tensor's floats
// in storage order), and a package (a subnet: tensors, then scalars) in one contiguous buffer.
// Byte counting, MPI packing and MPI broadcasts all use this, so they agree on the layout.
// A package may code its tensors itself (a CodedPackage with a lossy codec, see ist/codec): its
// tensors' bytes are then its coding. A journey no bytes made (in-process) the trainer codes
// itself (deliver / bring_back), so a transport only moves packages or their bytes.
#include <concepts>
#include <cstddef>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist::detail {

/// Bytes of the floats of `tensors`.
inline std::size_t tensor_bytes(std::span<Tensor* const> tensors) {
    std::size_t n = 0;
    for (const Tensor* t : tensors) n += t->size() * sizeof(float);
    return n;
}

/// Copies the floats of `tensors` to `out`, one after the other; returns the end.
inline char* pack_tensors(std::span<Tensor* const> tensors, char* out) {
    for (const Tensor* t : tensors) {
        const std::size_t bytes = t->size() * sizeof(float);
        if (bytes) std::memcpy(out, t->data(), bytes);
        out += bytes;
    }
    return out;
}

/// Overwrites `tensors` (shapes already right) from `in`, as pack_tensors laid them out; returns the end.
inline const char* unpack_tensors(std::span<Tensor* const> tensors, const char* in) {
    for (Tensor* t : tensors) {
        const std::size_t bytes = t->size() * sizeof(float);
        if (bytes) std::memcpy(t->data(), in, bytes);
        in += bytes;
    }
    return in;
}

}  // namespace ist::detail

namespace ist {

/// A package that may travel coded; when coded() is true its tensors travel as its own coding.
template <class P>
concept CodedPackage = requires(P& p, std::vector<char>& out, const char* in) {
    { p.coded() } -> std::convertible_to<bool>;               // coding is on (else the plain floats travel)
    { p.coded_tensor_bytes() } -> std::same_as<std::size_t>;  // the exact bytes of its coded tensors
    p.encode_tensors(out);                                   // the sender: appends its tensors' coding to out
    p.decode_tensors(in);                                    // the receiver: overwrites its tensors from their coding
    p.deliver();     // the trainer: the journey to the worker in place, unless bytes made it already
    p.bring_back();  // the trainer: the way back in place, unless bytes made it already
};

}  // namespace ist

namespace ist::detail {

template <class P>
bool travels_coded(P& package) {
    if constexpr (CodedPackage<P>) return package.coded();
    else return false;
}

/// The bytes of a package's tensors as they travel (coded, or their floats).
template <class P>
std::size_t tensor_payload_bytes(P& package) {
    if constexpr (CodedPackage<P>)
        if (package.coded()) return package.coded_tensor_bytes();
    return tensor_bytes(package.tensors());
}

/// The trainer's side of a package no transport moved as bytes (in-process, or the coordinator's
/// own worker): its coded journey to the worker, before the work starts ...
template <class P>
void deliver_in_process(P& package) {
    if constexpr (CodedPackage<P>)
        if (package.coded()) package.deliver();
}

/// ... and its way back, once the round is over (nothing happens unless it travels coded, or if
/// its journey was made as bytes, pack and unpack).
template <class P>
void return_in_process(P& package) {
    if constexpr (CodedPackage<P>)
        if (package.coded()) package.bring_back();
}

/// Which parts of a package travel: all of it, or only its scalars (the tensors stay put when
/// every process keeps its own replica).
enum class PackedParts { TensorsAndScalars, ScalarsOnly };

/// A package's bytes: its tensors' floats in order (unless ScalarsOnly), then its scalars.
template <class P>
std::size_t packed_size(P& package, PackedParts parts = PackedParts::TensorsAndScalars) {
    const std::size_t tensors = parts == PackedParts::TensorsAndScalars ? tensor_payload_bytes(package) : 0;
    return tensors + std::span<double>(package.scalars()).size() * sizeof(double);
}

template <class P>
std::vector<char> pack(P& package, PackedParts parts = PackedParts::TensorsAndScalars) {
    const std::span<double> scalars(package.scalars());
    const std::size_t total = packed_size(package, parts), tensors = total - scalars.size_bytes();
    std::vector<char> out;
    out.reserve(total);
    if (parts == PackedParts::TensorsAndScalars && travels_coded(package)) {
        if constexpr (CodedPackage<P>) package.encode_tensors(out);
        if (out.size() != tensors) throw std::logic_error("pack: the package's coding is not coded_tensor_bytes() long");
    } else {
        out.resize(tensors);
        if (parts == PackedParts::TensorsAndScalars) pack_tensors(package.tensors(), out.data());
    }
    const char* first = reinterpret_cast<const char*>(scalars.data());
    out.insert(out.end(), first, first + scalars.size_bytes());
    return out;
}

/// Overwrites `package` (shapes already right) from a buffer `pack` made with the same parts.
/// A buffer of another length is refused (DataError) before anything is decoded.
template <class P>
void unpack(P& package, const std::vector<char>& in, PackedParts parts = PackedParts::TensorsAndScalars) {
    const std::size_t expected = packed_size(package, parts);
    if (in.size() != expected)
        throw DataError("unpack: a message of " + std::to_string(in.size()) + " bytes where " +
                        std::to_string(expected) + " were expected; it is not decoded");
    const char* at = in.data();
    if (parts == PackedParts::TensorsAndScalars) {
        if constexpr (CodedPackage<P>)
            if (package.coded()) package.decode_tensors(at);
        if (!travels_coded(package)) unpack_tensors(package.tensors(), at);
        at += tensor_payload_bytes(package);
    }
    const std::span<double> scalars(package.scalars());
    if (!scalars.empty()) std::memcpy(scalars.data(), at, scalars.size_bytes());
}

}  // namespace ist::detail
