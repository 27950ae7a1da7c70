// The transformer cut element by element (issue 36): a worker's subnet holds, in every block, the
// rows of Q, K and V (weights and biases) and the columns of the output projection of exactly its
// heads, head h being columns h x span .. h x span + span - 1 in the plan's order, the rows of W1 and
// b1 and the columns of W2 of exactly its feed-forward neurons, and everything else whole.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <ist/model/transformer/transformer.hpp>
#include <ist/partition/transformer_partition.hpp>

using namespace ist;

namespace {

const std::vector<std::uint32_t>& held(const Transformer& model, const WorkerPlan& plan, const std::string& name) {
    const DimensionTable& dims = model.dimensions();
    for (std::size_t d = 0; d < dims.size(); ++d)
        if (dims[d].name == name) return *plan.dims[d];
    FAIL("no dimension " << name);
    throw;
}

/// sub == full restricted to `rows` (all rows if empty) x `cols` (all columns if empty).
void check_slice(const Tensor& sub, const Tensor& full, const std::vector<std::uint32_t>& rows,
                 const std::vector<std::uint32_t>& cols, const std::string& what) {
    const bool vector = full.dimension() == 1;
    const std::size_t full_cols = vector ? 1 : full.shape()[1];
    const std::size_t n_rows = rows.empty() ? full.shape()[0] : rows.size();
    const std::size_t n_cols = vector ? 1 : cols.empty() ? full_cols : cols.size();
    REQUIRE_MESSAGE(sub.size() == n_rows * n_cols, what);
    for (std::size_t r = 0; r < n_rows; ++r)
        for (std::size_t c = 0; c < n_cols; ++c) {
            const std::size_t fr = rows.empty() ? r : rows[r], fc = vector || cols.empty() ? c : cols[c];
            if (sub.data()[r * n_cols + c] != full.data()[fr * full_cols + fc]) {
                FAIL_CHECK(what << ": element (" << r << ", " << c << ") is not the full model's (" << fr << ", " << fc << ")");
                return;
            }
        }
}

}  // namespace

TEST_CASE("transformer cut slices: Q/K/V rows and output-projection columns of the worker's heads, W1 rows and W2 columns of its neurons") {
    // width 12, 3 heads of 4 columns (span != heads), 7 feed-forward neurons, 2 blocks, S = 2.
    const TransformerShape shape{.vocabulary = 10, .sequence_length = 5, .width = 12, .heads = 3, .ffn = 7, .blocks = 2,
                                 .classes = 3, .seed = 5};
    const Transformer model(shape);
    const std::size_t span = shape.width / shape.heads;
    for (TransformerCut cut : {TransformerCut::Heads, TransformerCut::Ffn, TransformerCut::Both}) {
        PartitionRng rng(11);
        Plan plan = TransformerPartition(cut).plan(model.dimensions(), 2, rng);
        derive_indices(model.dimensions(), plan);
        for (std::size_t s = 0; s < 2; ++s) {
            const Transformer sub = model.subnet(plan[s]);
            CHECK(sub.parameter(0).value == model.parameter(0).value);  // the embedding
            for (std::size_t b = 0; b < shape.blocks; ++b) {
                const std::string block = "block" + std::to_string(b + 1);
                std::vector<std::uint32_t> columns, neurons;
                if (cut != TransformerCut::Ffn)
                    for (std::uint32_t h : held(model, plan[s], block + "/heads"))
                        for (std::uint32_t k = 0; k < span; ++k) columns.push_back(static_cast<std::uint32_t>(h * span + k));
                if (cut != TransformerCut::Heads) neurons = held(model, plan[s], block + "/ffn");
                const std::size_t first = 2 + b * kBlockParameters;
                const auto check = [&](std::size_t p, const std::vector<std::uint32_t>& rows,
                                       const std::vector<std::uint32_t>& cols, const char* name) {
                    check_slice(sub.parameter(first + p).value, model.parameter(first + p).value, rows, cols,
                                block + " " + name + " (worker " + std::to_string(s) + ")");
                };
                for (std::size_t p : {kQueryWeight, kQueryBias, kKeyWeight, kKeyBias, kValueWeight, kValueBias})
                    check(kAttentionFirst + p, columns, {}, "Q/K/V");
                check(std::size_t{kAttentionFirst} + kOutputWeight, {}, columns, "output weight");
                check(std::size_t{kAttentionFirst} + kOutputBias, {}, {}, "output bias");
                check(kHiddenWeight, neurons, {}, "W1");
                check(kHiddenBias, neurons, {}, "b1");
                check(kFfnOutputWeight, {}, neurons, "W2");
                check(kFfnOutputBias, {}, {}, "b2");
                check(kNorm2Gain, {}, {}, "norm");
            }
        }
    }
}
