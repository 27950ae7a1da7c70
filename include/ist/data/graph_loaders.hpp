#pragma once
// Graphs from files and from data: "u v" edge lists, scipy-style CSR in .npz, Zachary's karate
// club (bundled), and a k-nearest-neighbour graph over the rows of a data matrix (BLAS distances).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/builtin.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/numpy.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/data/graph.hpp"

namespace ist {

struct EdgeListOptions {
    std::size_t nodes = 0;   ///< 0 = the largest id in the file + 1 (minus the base)
    bool one_based = false;  ///< ids in the file start at 1
    bool symmetric = false;  ///< each edge is listed in both directions (see EdgeInput)
};

/// A graph with one labelled row of node features per node (row i = node i).
struct GraphDataset {
    Graph graph;   ///< the plain adjacency; call normalized_adjacency() for a GCN
    Dataset data;  ///< node features and labels
};

/// Loads an undirected graph from a text edge list (optionally gzip-compressed): one edge
/// "u v" per line (space- or tab-separated non-negative integers), '#' starts a comment, blank
/// lines are skipped. Ids must be dense (0..n-1): a largest id far beyond the edge count is an
/// error unless EdgeListOptions::nodes says how many nodes there are. Throws ist::DataError
/// naming file, line and problem (malformed line, id out of range, self-loop, duplicate edge,
/// missing reverse for symmetric input, no edges).
/// parse_edge_list reads `text` from memory (`path` names it in messages).
inline Graph parse_edge_list(std::string_view text, const std::string& path, const EdgeListOptions& options = {}) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;
    std::vector<std::size_t> lines;  // the line of each edge, for error messages
    std::uint64_t largest = 0;
    std::size_t line_no = 0;
    std::string_view rest(text);
    while (!rest.empty()) {
        const std::size_t eol = rest.find('\n');
        std::string_view line = rest.substr(0, eol);
        rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
        ++line_no;
        line = line.substr(0, line.find('#'));
        std::string_view fields[3];
        std::size_t count = 0;
        for (std::size_t at = 0; at < line.size();) {
            const std::size_t start = line.find_first_not_of(" \t\r", at);
            if (start == std::string_view::npos) break;
            const std::size_t end = std::min(line.find_first_of(" \t\r", start), line.size());
            if (count < 3) fields[count] = line.substr(start, end - start);
            ++count;
            at = end;
        }
        if (count == 0) continue;
        const std::string where = path + ": line " + std::to_string(line_no);
        if (count != 2)
            throw DataError(where + ": expected an edge 'u v' (two node ids), found " + std::to_string(count) +
                            (count == 1 ? " field" : " fields"));
        std::uint32_t ids[2];
        for (int f = 0; f < 2; ++f) {
            std::uint64_t v = 0;
            const auto [end, ec] = std::from_chars(fields[f].data(), fields[f].data() + fields[f].size(), v);
            if (ec != std::errc{} || end != fields[f].data() + fields[f].size() || v > UINT32_MAX)
                throw DataError(where + ": '" + std::string(fields[f]) + "' is not a node id (an integer in 0.." +
                                std::to_string(UINT32_MAX) + ")");
            if (options.one_based && v == 0) throw DataError(where + ": node id 0 in a 1-based edge list");
            largest = std::max(largest, v);
            ids[f] = static_cast<std::uint32_t>(v - (options.one_based ? 1 : 0));
        }
        edges.emplace_back(ids[0], ids[1]);
        lines.push_back(line_no);
    }
    if (edges.empty()) throw DataError(path + ": no edges (the file is empty or only comments)");
    const std::size_t nodes = options.nodes ? options.nodes : static_cast<std::size_t>(largest) + (options.one_based ? 0 : 1);
    // Ids far beyond the edge count (SNAP-style sparse ids, or a typo) would make a huge node table.
    if (!options.nodes && nodes > 2 * edges.size() + 1024)
        throw DataError(path + ": the largest node id is " + std::to_string(largest) + " but there are only " +
                        std::to_string(edges.size()) + " edges; renumber the nodes 0..n-1 or set EdgeListOptions::nodes");
    return Graph::from_edges(nodes, edges, {options.symmetric, options.one_based ? 1u : 0u}, path,
                             [&](std::size_t k) { return "line " + std::to_string(lines[k]); });
}

inline Graph load_edge_list(const std::string& path, const EdgeListOptions& options = {}) {
    return parse_edge_list(detail::FileContent(path).text(), path, options);
}

namespace detail::graph_files {

/// The 1-D integer array `a` as unsigned values; floats, negatives and other ranks are errors.
inline std::vector<std::uint64_t> to_indices(const detail::npy::Array& a) {
    if (a.dtype.kind != 'i' && a.dtype.kind != 'u')
        throw DataError(a.name + ": dtype " + a.dtype.descr + ", expected integers");
    if (a.shape.size() != 1)
        throw DataError(a.name + ": expected a 1-D array, got shape " + detail::npy::shape_text(a.shape));
    std::vector<std::uint64_t> out(a.count);
    detail::npy::for_each_element(a, [&](std::size_t i, auto v) {
        if constexpr (std::is_signed_v<decltype(v)>)
            if (v < 0) throw DataError(a.name + ": entry " + std::to_string(i) + " is negative (" + std::to_string(v) + ")");
        out[i] = static_cast<std::uint64_t>(v);
    });
    return out;
}

}  // namespace detail::graph_files

/// Loads an undirected graph stored as a symmetric CSR adjacency in an .npz archive (as
/// scipy.sparse.save_npz writes one: arrays `indptr` and `indices`; `data` and `shape` are not
/// read, the graph is unweighted). Every edge must appear in both rows, with no self-loops and no
/// repeats. Throws ist::DataError naming the file, array, entry and row.
/// parse_csr_graph reads the archive from memory (`path` names it in messages).
inline Graph parse_csr_graph(std::span<const unsigned char> bytes, const std::string& path,
                             const std::string& indptr_key = "indptr", const std::string& indices_key = "indices") {
    const detail::ZipReader zip{bytes, path};
    const auto entries = detail::zip_directory(zip);
    std::string members[2];  // as named in the archive ("indptr.npy", ...)
    std::vector<std::uint64_t> arrays[2];
    for (int a = 0; a < 2; ++a) {
        const auto& entry = detail::find_npy_member(entries, a == 0 ? indptr_key : indices_key, path);
        const auto member = detail::zip_extract(zip, entry);
        members[a] = entry.name;
        arrays[a] = detail::graph_files::to_indices(detail::npy::parse_npy(member.data, member.size, path + "[" + entry.name + "]"));
    }
    const std::vector<std::uint64_t>& indptr = arrays[0];
    const std::vector<std::uint64_t>& indices = arrays[1];
    const std::string pname = path + "[" + members[0] + "]";
    if (indptr.size() < 2) throw DataError(pname + ": needs nodes + 1 >= 2 entries, has " + std::to_string(indptr.size()));
    if (indptr[0] != 0) throw DataError(pname + ": entry 0 is " + std::to_string(indptr[0]) + ", must be 0");
    for (std::size_t i = 1; i < indptr.size(); ++i)
        if (indptr[i] < indptr[i - 1])
            throw DataError(pname + ": entry " + std::to_string(i) + " (" + std::to_string(indptr[i]) +
                            ") is smaller than entry " + std::to_string(i - 1) + " (" + std::to_string(indptr[i - 1]) + ")");
    if (indptr.back() != indices.size())
        throw DataError(pname + ": last entry " + std::to_string(indptr.back()) + " does not match the " +
                        std::to_string(indices.size()) + " entries of " + members[1]);
    const std::size_t nodes = indptr.size() - 1;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> edges(indices.size());
    for (std::size_t i = 0; i < nodes; ++i)
        for (std::size_t k = indptr[i]; k < indptr[i + 1]; ++k)
            edges[k] = {static_cast<std::uint32_t>(i),
                        static_cast<std::uint32_t>(std::min<std::uint64_t>(indices[k], UINT32_MAX))};
    const auto locate = [&](std::size_t k) {
        const auto row = std::upper_bound(indptr.begin(), indptr.end(), k) - indptr.begin() - 1;
        return members[1] + " entry " + std::to_string(k) + " (row " + std::to_string(row) + ")";
    };
    return Graph::from_edges(nodes, edges, {true, 0}, path, locate);
}

inline Graph load_csr_graph(const std::string& path, const std::string& indptr_key = "indptr",
                            const std::string& indices_key = "indices") {
    const detail::FileContent content(path);
    return parse_csr_graph(content.input().bytes, path, indptr_key, indices_key);
}

/// Zachary's karate club (W. W. Zachary, J. Anthropol. Res. 33(4):452-473, 1977): 34 members,
/// 78 friendships, from data/karate.edgelist (1-based ids as in the paper; node i here is member
/// i + 1). Labels: the club each member joined after the split, 0 = the instructor's ("Mr. Hi",
/// member 1), 1 = the administrator's ("Officer", member 34); 17 each. Features: one-hot node
/// ids (34 x 34 identity), the usual featureless GCN setting. See data/README.md.
inline GraphDataset karate_club(const std::string& dir = default_data_dir()) {
    const std::string path = dir + "/karate.edgelist";
    GraphDataset out;
    out.graph = load_edge_list(path, {34, true, false});
    if (out.graph.edges() != 78)
        throw DataError(path + ": expected Zachary's 78 edges, found " + std::to_string(out.graph.edges()));
    static constexpr std::uint32_t officer[34] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0,
                                                  0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    out.data.name = "karate";
    out.data.classes = 2;
    out.data.features = xt::eye<float>(34);
    out.data.labels.assign(std::begin(officer), std::end(officer));
    return out;
}

/// The symmetric k-nearest-neighbour graph over the rows of `points` (Euclidean): i and j are
/// joined when j is among i's k nearest other rows or i among j's, so every node has degree >= k.
/// Ties are broken by the smaller index. Squared distances |p_i|^2 + |p_j|^2 - 2 p_i.p_j come from
/// one GEMM per block of rows, each block's distance matrix at most `block_floats` floats
/// (default 4 Mi = 16 MiB): the N x N distance matrix is never held. Cost O(N^2 d) flops.
inline Graph knn_graph(const Matrix& points, std::size_t k, std::size_t block_floats = std::size_t{1} << 22) {
    const std::size_t n = points.shape()[0], d = points.shape()[1];
    detail::require(k > 0 && k < n, "knn_graph: k must be in 1.." + std::to_string(n == 0 ? 0 : n - 1) +
                                        " for " + std::to_string(n) + " points, got " + std::to_string(k));
    detail::require(n <= std::size_t{UINT32_MAX}, "knn_graph: too many points for 32-bit node ids");
    std::vector<float> norms(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float* p = points.data() + i * d;
        float s = 0.0f;
        for (std::size_t j = 0; j < d; ++j) s += p[j] * p[j];
        norms[i] = s;
    }
    const std::size_t rows = std::clamp<std::size_t>(block_floats / n, 1, n);
    std::vector<std::vector<std::uint32_t>> lists(n);
    std::vector<std::uint32_t> order(n);
    Matrix block, dots;
    for (std::size_t r0 = 0; r0 < n; r0 += rows) {
        const std::size_t r1 = std::min(n, r0 + rows);
        block.resize({r1 - r0, d});
        std::copy(points.data() + r0 * d, points.data() + r1 * d, block.data());
        // fp32 whatever the run's precision: the graph is data, the same for every run.
        detail::gemm(block, points, dots, false, true, 1.0f, 0.0f, Precision::Fp32);
        for (std::size_t i = r0; i < r1; ++i) {
            const float* g = dots.data() + (i - r0) * n;
            // The row's own norm is common to all candidates, so rank by |p_j|^2 - 2 p_i.p_j.
            const auto dist = [&](std::uint32_t j) { return norms[j] - 2.0f * g[j]; };
            const auto closer = [&](std::uint32_t a, std::uint32_t b) {
                const float da = dist(a), db = dist(b);
                return da < db || (da == db && a < b);
            };
            std::iota(order.begin(), order.end(), 0u);
            std::swap(order[i], order[n - 1]);  // the point itself is never a candidate
            std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k - 1), order.end() - 1, closer);
            lists[i].assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
        }
    }
    return graph_from_neighbour_lists(std::move(lists));
}

}  // namespace ist
