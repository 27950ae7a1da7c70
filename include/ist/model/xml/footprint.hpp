#pragma once
// The peak heap of one worker training an XmlNetwork subnet (hidden width h of H), and the widest
// network a per-worker memory budget allows: the measurement behind "IST trains widths data
// parallel cannot fit" (IST on Amazon-670k: Yuan et al. 2019 / Wolfe et al.). Data parallel
// holds the whole network on every worker (h = H); IST holds about H / S hidden neurons, and both
// layers shrink with them, since the input and the labels are never cut.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "ist/core/error.hpp"

namespace ist {

struct XmlWorkerShape {
    std::size_t features = 0;    ///< F, input width (never cut)
    std::size_t hidden = 0;      ///< h, hidden neurons the worker holds
    std::size_t labels = 0;      ///< L, outputs (never cut)
    std::size_t batch = 0;       ///< B, rows per local step
    std::size_t batch_nnz = 0;   ///< stored features of one batch (B x mean row length)
    std::size_t batch_labels = 0;      ///< labels of one batch's rows, summed
    std::size_t optimizer_state = 0;   ///< state tensors per parameter (Sgd 0, momentum 1, Adam 2)
    bool all_reduce = false;           ///< gradients are all-reduced every step (data parallel)
};

/// Bytes, itemised (floats are 4 bytes, indices 4, row offsets 8).
struct XmlFootprint {
    double parameters = 0, gradients = 0, optimizer = 0;
    double activations = 0;  ///< pre-activation, hidden, logits, dlogits, dhidden: B x (3h + 2L)
    double batch = 0;        ///< the CSR batch and its label sets, and SparseDense's touched-row list
    double exchange = 0;     ///< data parallel: the all-reduce's result buffer, as long as the largest gradient
    double total() const { return parameters + gradients + optimizer + activations + batch + exchange; }
};

/// Mirrors what XmlNetwork allocates in a local step: both layers' values and full-size gradients
/// (SparseDense's gradient is dense storage though only the batch's rows are written), the
/// optimizer's state, the five batch matrices the forward and backward passes keep, the batch;
/// under data parallel also the all-reduce's result buffer (ThreadsTransport keeps one, sized by
/// the largest gradient, allocated by one of the worker threads: charged to every worker, so the
/// formula never underestimates the worst one).
inline XmlFootprint xml_worker_footprint(const XmlWorkerShape& w) {
    const double F = static_cast<double>(w.features), h = static_cast<double>(w.hidden);
    const double L = static_cast<double>(w.labels), B = static_cast<double>(w.batch);
    const double parameters = F * h + h + L * h + L;
    XmlFootprint out;
    out.parameters = 4.0 * parameters;
    out.gradients = 4.0 * parameters + 4.0 * L;  // Dense's bias-gradient copy
    out.optimizer = 4.0 * parameters * static_cast<double>(w.optimizer_state);
    out.activations = 4.0 * B * (3.0 * h + 2.0 * L);
    out.batch = 8.0 * static_cast<double>(w.batch_nnz) * 1.5 + 8.0 * (B + 1.0) * 2.0 +
                4.0 * static_cast<double>(w.batch_labels);  // indices + values + touched rows; offsets
    if (w.all_reduce) out.exchange = 4.0 * std::max(F, L) * h;
    return out;
}

/// The widest full hidden width H (a multiple of S, up to `limit`) whose worker share H / S fits
/// `budget_bytes`; 0 when none does. The footprint grows with h, so a binary search finds it.
inline std::size_t widest_fitting_width(XmlWorkerShape shape, std::size_t S, double budget_bytes,
                                        std::size_t limit = std::size_t{1} << 24) {
    const auto fits = [&](std::size_t H) {
        shape.hidden = H / S;
        return xml_worker_footprint(shape).total() <= budget_bytes;
    };
    std::size_t lo = 0, hi = limit / S;  // in units of S
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo + 1) / 2;
        if (fits(mid * S)) lo = mid;
        else hi = mid - 1;
    }
    return lo * S;
}

inline std::string format_gib(double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / 1073741824.0);
    return text;
}

/// Throws ConfigError when `shape` does not fit `budget_bytes`, naming both and the parts.
inline void check_memory_budget(const XmlWorkerShape& shape, double budget_bytes, const std::string& run) {
    const XmlFootprint f = xml_worker_footprint(shape);
    if (f.total() <= budget_bytes) return;
    throw ConfigError(run + ": a worker holding " + std::to_string(shape.hidden) + " hidden neurons needs " +
                      format_gib(f.total()) + " (parameters " + format_gib(f.parameters) + ", gradients " +
                      format_gib(f.gradients) + ", optimizer " + format_gib(f.optimizer) + ", activations " +
                      format_gib(f.activations) + (f.exchange > 0 ? ", all-reduce buffer " + format_gib(f.exchange) : "") +
                      "), over the memory budget of " + format_gib(budget_bytes));
}

}  // namespace ist
