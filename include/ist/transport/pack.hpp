#pragma once
// What travels, as bytes: a list of tensors flattened one after the other (each tensor's floats
// in storage order), and a package (a subnet: tensors, then scalars) in one contiguous buffer.
// Byte counting, MPI packing and MPI broadcasts all use this, so they agree on the layout.
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

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

/// Which parts of a package travel: all of it, or only its scalars (the tensors stay put when
/// every process keeps its own replica).
enum class PackedParts { TensorsAndScalars, ScalarsOnly };

/// A package's bytes: its tensors' floats in order (unless ScalarsOnly), then its scalars.
template <class P>
std::size_t packed_size(P& package, PackedParts parts = PackedParts::TensorsAndScalars) {
    const std::size_t tensors = parts == PackedParts::TensorsAndScalars ? tensor_bytes(package.tensors()) : 0;
    return tensors + std::span<double>(package.scalars()).size() * sizeof(double);
}

template <class P>
std::vector<char> pack(P& package, PackedParts parts = PackedParts::TensorsAndScalars) {
    std::vector<char> out(packed_size(package, parts));
    char* at = out.data();
    if (parts == PackedParts::TensorsAndScalars) at = pack_tensors(package.tensors(), at);
    const std::span<double> scalars(package.scalars());
    if (!scalars.empty()) std::memcpy(at, scalars.data(), scalars.size() * sizeof(double));
    return out;
}

/// Overwrites `package` (shapes already right) from a buffer `pack` made with the same parts.
template <class P>
void unpack(P& package, const std::vector<char>& in, PackedParts parts = PackedParts::TensorsAndScalars) {
    const char* at = in.data();
    if (parts == PackedParts::TensorsAndScalars) at = unpack_tensors(package.tensors(), at);
    const std::span<double> scalars(package.scalars());
    if (!scalars.empty()) std::memcpy(scalars.data(), at, scalars.size() * sizeof(double));
}

}  // namespace ist::detail
