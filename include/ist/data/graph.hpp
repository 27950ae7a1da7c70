#pragma once
// An undirected graph in compressed sparse row form, its GCN normalisation and the sparse-dense
// products a graph convolution needs. No N x N dense matrix is ever formed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// How an edge list describes an undirected graph.
struct EdgeInput {
    /// false: each undirected edge is given once ("u v"; giving "v u" as well is a duplicate).
    /// true: each edge is given in both directions, and a missing reverse is an error.
    bool symmetric = false;
    /// Added to node ids in error messages, so they read as in the user's file (1 for 1-based ids).
    std::size_t id_base = 0;
};

/// A square sparse matrix over `nodes()` nodes in CSR form: row i's entries are
/// columns()[row_offsets()[i] .. row_offsets()[i + 1]), sorted by column, with values() alongside.
///
/// Invariant: the sparsity pattern and the values are symmetric (every Graph comes from a
/// validated undirected edge set, and the normalisation D^-1/2 (A + I) D^-1/2 keeps symmetry),
/// so A^T x = A x. `spmm_transposed` exists for code that wants to say what it means.
class Graph {
public:
    /// Location of input entry k for error messages, e.g. "line 7" or "entry 12 (row 3)".
    using Locate = std::function<std::string(std::size_t)>;

    Graph() = default;

    /// The graph over `nodes` nodes (0-based ids) with `edges`. Throws ist::DataError naming
    /// `source`, the entry (via `locate`, default "edge k") and the problem: an id out of range,
    /// a self-loop (the normalisation adds self-loops itself), a duplicate edge, or, for
    /// symmetric input, an edge without its reverse.
    static Graph from_edges(std::size_t nodes, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& edges,
                            const EdgeInput& input = {}, const std::string& source = "edge list",
                            Locate locate = {}) {
        if (!locate) locate = [](std::size_t k) { return "edge " + std::to_string(k); };
        detail::require<DataError>(nodes > 0, source + ": the graph has no nodes");
        detail::require<DataError>(nodes <= std::size_t{UINT32_MAX},
                                   source + ": " + std::to_string(nodes) + " nodes do not fit 32-bit node ids");
        const auto id = [&](std::uint32_t v) { return std::to_string(std::size_t{v} + input.id_base); };
        std::vector<Entry> entries;
        entries.reserve(edges.size() * (input.symmetric ? 1 : 2));
        for (std::size_t k = 0; k < edges.size(); ++k) {
            const auto [u, v] = edges[k];
            for (std::uint32_t w : {u, v})
                if (w >= nodes)
                    throw DataError(source + ": " + locate(k) + ": node id " + id(w) + " is out of range for " +
                                    std::to_string(nodes) + " nodes" +
                                    (input.id_base ? " (ids " + id(0) + ".." + id(static_cast<std::uint32_t>(nodes - 1)) + ")"
                                                   : std::string{}));
            if (u == v)
                throw DataError(source + ": " + locate(k) + ": self-loop on node " + id(u) +
                                " (not allowed: the normalisation adds every self-loop itself)");
            entries.push_back({u, v, k});
            if (!input.symmetric) entries.push_back({v, u, k});
        }
        std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
            return std::tie(a.row, a.col, a.at) < std::tie(b.row, b.col, b.at);
        });
        for (std::size_t i = 1; i < entries.size(); ++i) {
            const Entry& a = entries[i - 1];
            const Entry& b = entries[i];
            if (a.row != b.row || a.col != b.col) continue;
            const std::size_t first = std::min(a.at, b.at), again = std::max(a.at, b.at);
            const auto [u, v] = edges[again];
            throw DataError(source + ": " + locate(again) + ": duplicate edge " + id(u) + " " + id(v) + " (same as " +
                            locate(first) + ")" +
                            (input.symmetric ? std::string{}
                                             : "; an undirected edge list gives each edge once, in one direction"));
        }
        if (input.symmetric) {
            const auto less = [](const Entry& a, const Entry& b) { return std::tie(a.row, a.col) < std::tie(b.row, b.col); };
            for (const Entry& e : entries)
                if (!std::binary_search(entries.begin(), entries.end(), Entry{e.col, e.row, 0}, less))
                    throw DataError(source + ": " + locate(e.at) + ": edge " + id(e.row) + " " + id(e.col) +
                                    " has no reverse " + id(e.col) + " " + id(e.row) +
                                    " (the input must be symmetric: every edge in both directions)");
        }
        Graph g;
        g.offsets_.assign(nodes + 1, 0);
        g.cols_.reserve(entries.size());
        for (const Entry& e : entries) {
            ++g.offsets_[std::size_t{e.row} + 1];
            g.cols_.push_back(e.col);
        }
        for (std::size_t i = 0; i < nodes; ++i) g.offsets_[i + 1] += g.offsets_[i];
        g.values_.assign(entries.size(), 1.0f);
        return g;
    }

    std::size_t nodes() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
    /// Stored entries: twice the undirected edge count for a plain graph, plus one per node once normalised.
    std::size_t entries() const { return cols_.size(); }
    /// Undirected edges, not counting self-loops.
    std::size_t edges() const { return (cols_.size() - (normalized_ ? nodes() : 0)) / 2; }
    /// Neighbours of node i (its own self-loop included once normalised).
    std::size_t degree(std::size_t i) const { return offsets_[i + 1] - offsets_[i]; }
    /// True for D^-1/2 (A + I) D^-1/2 as made by normalized_adjacency().
    bool normalized() const { return normalized_; }

    const std::vector<std::size_t>& row_offsets() const { return offsets_; }
    const std::vector<std::uint32_t>& columns() const { return cols_; }
    const std::vector<float>& values() const { return values_; }

    /// A_hat = D^-1/2 (A + I) D^-1/2 with D the degree matrix of A + I (Kipf & Welling's
    /// renormalisation): entry (i, j) is 1 / sqrt((deg_i + 1)(deg_j + 1)) for j a neighbour or i itself.
    Graph normalized_adjacency() const {
        detail::require(!normalized_, "Graph::normalized_adjacency: the graph is already normalised");
        const std::size_t n = nodes();
        std::vector<float> inv_sqrt(n);
        for (std::size_t i = 0; i < n; ++i) inv_sqrt[i] = 1.0f / std::sqrt(static_cast<float>(degree(i) + 1));
        Graph g;
        g.normalized_ = true;
        g.offsets_.resize(n + 1);
        g.cols_.reserve(cols_.size() + n);
        g.values_.reserve(cols_.size() + n);
        g.offsets_[0] = 0;
        for (std::size_t i = 0; i < n; ++i) {
            bool self_done = false;
            for (std::size_t k = offsets_[i]; k <= offsets_[i + 1]; ++k) {
                // The self-loop goes in column order, before the first neighbour past i.
                if (!self_done && (k == offsets_[i + 1] || cols_[k] > i)) {
                    g.cols_.push_back(static_cast<std::uint32_t>(i));
                    g.values_.push_back(inv_sqrt[i] * inv_sqrt[i]);
                    self_done = true;
                }
                if (k == offsets_[i + 1]) break;
                g.cols_.push_back(cols_[k]);
                g.values_.push_back(inv_sqrt[i] * inv_sqrt[cols_[k]]);
            }
            g.offsets_[i + 1] = g.cols_.size();
        }
        return g;
    }

private:
    struct Entry {
        std::uint32_t row, col;
        std::size_t at;  // index of the input edge it came from
    };
    friend Graph graph_from_neighbour_lists(std::vector<std::vector<std::uint32_t>>);
    friend Graph induced_subgraph(const Graph&, std::span<const std::uint32_t>);

    std::vector<std::size_t> offsets_;
    std::vector<std::uint32_t> cols_;
    std::vector<float> values_;
    bool normalized_ = false;
};

/// The symmetric graph with an edge between i and j whenever j is in `lists[i]` or i is in
/// `lists[j]` (lists may overlap and need not be sorted; entries i in lists[i] are ignored).
inline Graph graph_from_neighbour_lists(std::vector<std::vector<std::uint32_t>> lists) {
    const std::size_t n = lists.size();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0, m = lists[i].size(); k < m; ++k) {
            const std::uint32_t j = lists[i][k];
            detail::require<DataError>(j < n, "graph_from_neighbour_lists: node " + std::to_string(j) +
                                                  " is out of range for " + std::to_string(n) + " nodes");
            if (j != i) lists[j].push_back(static_cast<std::uint32_t>(i));
        }
    Graph g;
    g.offsets_.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        auto& l = lists[i];
        std::sort(l.begin(), l.end());
        l.erase(std::unique(l.begin(), l.end()), l.end());
        for (std::uint32_t j : l)
            if (j != i) g.cols_.push_back(j);
        g.offsets_[i + 1] = g.cols_.size();
        std::vector<std::uint32_t>().swap(l);
    }
    g.values_.assign(g.cols_.size(), 1.0f);
    return g;
}

/// The subgraph of `g` on `nodes`: node k of the result is node nodes[k] of g (any order), with
/// every entry of g between two listed nodes, values included, so the principal submatrix of a
/// normalised graph stays normalised. For Cluster-GCN, take the subgraph of the plain graph and
/// normalise it. Throws ist::DataError for an empty list, an id out of range or an id listed
/// twice. Cost: O(N) scratch (the position of each node in `nodes`) plus O(sum of their degrees).
inline Graph induced_subgraph(const Graph& g, std::span<const std::uint32_t> nodes) {
    constexpr std::uint32_t absent = UINT32_MAX;
    const std::size_t n = g.nodes(), m = nodes.size();
    detail::require<DataError>(m > 0, "induced_subgraph: no nodes given");
    std::vector<std::uint32_t> local(n, absent);
    for (std::size_t k = 0; k < m; ++k) {
        const std::uint32_t v = nodes[k];
        if (v < n && local[v] == absent) {
            local[v] = static_cast<std::uint32_t>(k);
            continue;
        }
        const std::string where = "induced_subgraph: entry " + std::to_string(k) + ": ";
        throw DataError(v >= n ? where + "node id " + std::to_string(v) + " is out of range for " + std::to_string(n) + " nodes"
                               : where + "duplicate node id " + std::to_string(v) + " (same as entry " +
                                     std::to_string(local[v]) + ")");
    }
    const auto& offsets = g.offsets_;
    Graph s;
    s.normalized_ = g.normalized_;
    s.offsets_.assign(m + 1, 0);
    for (std::size_t k = 0; k < m; ++k)
        for (std::size_t e = offsets[nodes[k]]; e < offsets[nodes[k] + 1]; ++e)
            s.offsets_[k + 1] += local[g.cols_[e]] != absent;
    std::partial_sum(s.offsets_.begin(), s.offsets_.end(), s.offsets_.begin());
    s.cols_.resize(s.offsets_[m]);
    s.values_.resize(s.offsets_[m]);
    // Entry (i, j) is entry (j, i) (symmetry), so filling every row from column j's row, for
    // j = 0, 1, ..., leaves each row sorted by column without a sort.
    std::vector<std::size_t> next(s.offsets_.begin(), s.offsets_.end() - 1);
    for (std::size_t j = 0; j < m; ++j)
        for (std::size_t e = offsets[nodes[j]]; e < offsets[nodes[j] + 1]; ++e) {
            const std::uint32_t i = local[g.cols_[e]];
            if (i == absent) continue;
            s.cols_[next[i]] = static_cast<std::uint32_t>(j);
            s.values_[next[i]++] = g.values_[e];
        }
    return s;
}

/// y = A x for rows [row_begin, row_end) of y: a gather over each CSR row, adding contiguous
/// feature rows of x, so disjoint row ranges can run on different threads. y must already have
/// shape nodes x features.
inline void spmm_rows(const Graph& a, const Matrix& x, Matrix& y, std::size_t row_begin, std::size_t row_end) {
    const std::size_t f = x.shape()[1];
    const auto& offsets = a.row_offsets();
    const std::uint32_t* cols = a.columns().data();
    const float* vals = a.values().data();
    const float* xd = x.data();
    for (std::size_t i = row_begin; i < row_end; ++i) {
        float* yr = y.data() + i * f;
        std::fill(yr, yr + f, 0.0f);
        for (std::size_t k = offsets[i]; k < offsets[i + 1]; ++k) {
            const float v = vals[k];
            const float* xr = xd + std::size_t{cols[k]} * f;
            for (std::size_t j = 0; j < f; ++j) yr[j] += v * xr[j];
        }
    }
}

/// y = A x (nodes x features), with x's rows the graph's nodes. Cost: entries() x features.
inline void spmm(const Graph& a, const Matrix& x, Matrix& y) {
    detail::require<DataError>(x.shape()[0] == a.nodes(), "spmm: the input has " + std::to_string(x.shape()[0]) +
                                                              " rows, the graph has " + std::to_string(a.nodes()) +
                                                              " nodes");
    if (y.shape() != x.shape()) y.resize(x.shape());
    spmm_rows(a, x, y, 0, a.nodes());
}

/// y = A^T x. Every Graph is symmetric (A^T = A, see the class comment), so this is spmm; the
/// backward pass of a graph convolution calls it to say which product it needs.
inline void spmm_transposed(const Graph& a, const Matrix& x, Matrix& y) { spmm(a, x, y); }

}  // namespace ist
