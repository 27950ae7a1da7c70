// SparseDense's gradients by finite differences (issue 36), over consecutive backward calls on
// batches touching different features: each call's weight and bias gradients are those of its own
// batch alone (nothing left from the previous call), with feature values other than 1.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <ist/model/xml/sparse_dense.hpp>

using namespace ist;

namespace {

CsrMatrix csr_rows(std::size_t cols, const std::vector<std::vector<std::pair<std::uint32_t, float>>>& rows) {
    CsrMatrix x;
    x.cols = cols;
    for (const auto& row : rows) {
        std::vector<std::uint32_t> idx;
        std::vector<float> val;
        for (auto [j, v] : row) idx.push_back(j), val.push_back(v);
        x.append_row(idx, val);
    }
    return x;
}

/// L = sum of y (.) R for a fixed R: dL/dy = R.
double weighted_output(const SparseDense& layer, const CsrMatrix& x, const Matrix& R) {
    Matrix y;
    layer.forward(x, y);
    double sum = 0;
    for (std::size_t k = 0; k < y.size(); ++k) sum += static_cast<double>(y.data()[k]) * R.data()[k];
    return sum;
}

/// Central difference of L in every element of parameter `p`.
std::vector<double> finite_differences(SparseDense& layer, std::size_t p, const CsrMatrix& x, const Matrix& R) {
    Tensor& value = layer.parameters()[p].value;
    std::vector<double> out(value.size());
    const float h = 0.125f;
    for (std::size_t k = 0; k < value.size(); ++k) {
        const float keep = value.data()[k];
        value.data()[k] = keep + h;
        const double up = weighted_output(layer, x, R);
        value.data()[k] = keep - h;
        const double down = weighted_output(layer, x, R);
        value.data()[k] = keep;
        out[k] = (up - down) / (2.0 * h);
    }
    return out;
}

Matrix fixed_upstream(std::size_t rows, std::size_t cols, float phase) {
    Matrix R = xt::zeros<float>({rows, cols});
    for (std::size_t k = 0; k < R.size(); ++k) R.data()[k] = std::cos(0.9f * static_cast<float>(k) + phase);
    return R;
}

}  // namespace

TEST_CASE("sparse dense: weight and bias gradients equal finite differences, call after call") {
    SparseDense layer(7, 4, 3);
    const CsrMatrix first = csr_rows(7, {{{0, 2.5f}, {3, -1.5f}}, {{3, 0.5f}, {5, 3.0f}}, {}});
    const CsrMatrix second = csr_rows(7, {{{1, -2.0f}}, {{3, 1.25f}, {6, 0.75f}}});
    const Matrix r1 = fixed_upstream(3, 4, 0.0f), r2 = fixed_upstream(2, 4, 1.0f);
    for (int call = 0; call < 3; ++call) {
        const CsrMatrix& x = call == 1 ? second : first;
        const Matrix& R = call == 1 ? r2 : r1;
        Matrix y;
        layer.forward(x, y);
        layer.backward(x, R);
        for (std::size_t p = 0; p < 2; ++p) {
            const auto want = finite_differences(layer, p, x, R);
            const Tensor& grad = layer.parameters()[p].grad;
            REQUIRE(grad.size() == want.size());
            for (std::size_t k = 0; k < want.size(); ++k)
                CHECK_MESSAGE(std::abs(grad.data()[k] - want[k]) < 1e-3 * (1 + std::abs(want[k])),
                              "call " << call << ", parameter " << p << ", element " << k);
        }
    }
}
