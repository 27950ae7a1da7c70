#pragma once
// The memory one GIST worker holds while it trains its sub-GCN (GIST: Wolfe et al. 2021), from
// the shapes alone: how wide a GCN fits a worker's memory, full training against GIST's S
// subnets. The GCN is GraphConv -> LayerNorm -> ReLU -> ... -> GraphConv trained by Adam, and the
// formula is itemised by what ist keeps alive in a worker (tensors of Network, GraphConv,
// LayerNorm, Adam and IstTrainer's local step). gist-train and gist-memory check it against
// measured peaks (docs/gist.md).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ist {

/// One worker's sub-GCN and what it trains on in one local step.
struct GistWorkerShape {
    /// The worker's widths: [input columns it reads, hidden widths it holds..., classes].
    std::vector<std::size_t> widths;
    std::size_t rows = 0;            ///< B: nodes in one local step (all N with the whole graph)
    std::size_t nodes = 0;           ///< N of the whole graph
    std::size_t input_features = 0;  ///< F: columns of the data set (all of them, before a split)
    bool split_input = false;        ///< the worker reads only widths[0] of the F columns (a copy)
    bool clusters = false;           ///< Cluster-GCN batch: rows are a copy, each layer builds its matrix
    std::size_t batch_entries = 0;   ///< clusters: stored entries of a batch's normalised matrix
};

/// Bytes, itemised.
struct GistFootprint {
    double parameters = 0, gradients = 0, adam = 0;  ///< 4 P bytes each for values and gradients, 8 P for m and v
    double activations = 0;  ///< forward outputs and backward input-gradients the Network keeps per layer
    double scratch = 0;      ///< GraphConv's product buffer, LayerNorm's 1/std, dlogits, the batch's row list
    double batch = 0;        ///< input copies (split input / cluster batch) and per-layer batch matrices
    double transient = 0;    ///< the largest short-lived allocation on top (loss temporaries, a new batch)
    double total() const { return parameters + gradients + adam + activations + scratch + batch + transient; }
};

namespace detail {

/// Cluster-GCN: the per-layer batch matrices (into `out.batch`) and the peak of building a new
/// batch while the old one still exists: an O(N) position table, the subgraph before
/// normalisation and the new matrix. Batches differ in size, so a buffer resized to a new batch
/// exists twice for a moment (xtensor allocates the new storage before freeing the old): at most
/// the input copy or the widest layer.
inline double gist_cluster_batch_bytes(const GistWorkerShape& w, GistFootprint& out) {
    constexpr double f = sizeof(float), u32 = sizeof(std::uint32_t), u64 = sizeof(std::size_t);
    const auto B = static_cast<double>(w.rows);
    const std::size_t L = w.widths.size() - 1;
    out.batch += f * B * static_cast<double>(w.input_features) + u32 * B;  // x and y copies
    const double matrix = u64 * (B + 1) + (u32 + f) * static_cast<double>(w.batch_entries);
    out.batch += static_cast<double>(L) * (matrix + u32 * B);  // each layer: matrix + its rows
    double widest = 0;
    for (std::size_t width : w.widths) widest = std::max(widest, static_cast<double>(width));
    return std::max({u32 * static_cast<double>(w.nodes) + u64 * (B + 1) +
                         (u32 + f) * static_cast<double>(w.batch_entries - std::min(w.batch_entries, w.rows)) + matrix,
                     f * B * static_cast<double>(w.input_features), f * B * widest});
}

}  // namespace detail

/// Peak bytes of one worker during its local steps (from the second step on every buffer exists).
/// Mirrors what ist allocates: Network keeps each layer's output (acts) and, for every layer but
/// the first, the gradient w.r.t. its input; GraphConv keeps one product buffer of
/// B x min(in, out) and a bias-gradient copy; LayerNorm keeps 1/std per row; the loss allocates
/// two B x C temporaries (shifted logits, log-probabilities); Adam holds m and v.
inline GistFootprint gist_worker_footprint(const GistWorkerShape& w) {
    constexpr double f = sizeof(float), u32 = sizeof(std::uint32_t);
    const std::size_t L = w.widths.size() - 1;
    const auto B = static_cast<double>(w.rows);
    const auto C = static_cast<double>(w.widths.back());
    GistFootprint out;
    double P = 0, bias = 0;
    for (std::size_t l = 1; l <= L; ++l) {
        const auto in = static_cast<double>(w.widths[l - 1]), o = static_cast<double>(w.widths[l]);
        P += in * o + o;  // weight + bias
        bias += o;
        out.activations += B * o;              // GraphConv output
        if (l > 1) out.activations += B * in;  // gradient w.r.t. its input (not for the first layer)
        out.scratch += B * std::min(in, o);    // GraphConv::mixed_
        if (l < L) {
            out.activations += 4 * B * o;  // LayerNorm and ReLU outputs, and their input gradients
            out.scratch += B;              // LayerNorm 1/std
        }
    }
    out.parameters = f * P;
    out.gradients = f * P;
    out.adam = 2 * f * P;
    out.activations *= f;
    out.scratch = f * (out.scratch + bias + B * C) + u32 * B;  // + bias-gradient copies, dlogits, row list
    if (w.split_input) out.batch += f * B * static_cast<double>(w.widths[0]);
    const double batch_build = w.clusters ? detail::gist_cluster_batch_bytes(w, out) : 0.0;
    out.transient = std::max(f * (2 * B * C + 2 * B), batch_build);
    return out;
}

/// What a worker machine holds besides its own state: the node features, labels (train and test
/// copies) and the graph (plain adjacency and A_hat, `entries` = stored entries of A_hat). In
/// gist-train's threads they are shared by every worker of the process.
inline double gist_shared_bytes(std::size_t nodes, std::size_t features, std::size_t entries) {
    const auto N = static_cast<double>(nodes), E = static_cast<double>(entries);
    return 4.0 * N * static_cast<double>(features) + 2 * 4.0 * N +  // features, two label vectors
           2 * 8.0 * (N + 1) + 8.0 * E + 8.0 * (E - N);                // two CSR graphs (A_hat has N more)
}

/// The widest share of `width` indices cut into S chunks (the first width % S take one more),
/// i.e. worker 0's width of a GIST-partitioned layer.
inline std::size_t gist_widest_share(std::size_t width, std::size_t S) { return (width + S - 1) / S; }

}  // namespace ist
