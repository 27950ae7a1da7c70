#pragma once
// Type erasure for layers, so one Network can hold library layers and users' own types.
#include <cstdlib>
#include <cxxabi.h>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>

#include "ist/model/layer.hpp"

namespace ist {

namespace detail {
/// "ist::Dense" rather than the ABI's "N3ist5DenseE", for error messages.
inline std::string demangled_name(const char* mangled) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}
}  // namespace detail

/// Owns any type that models ist::Layer behind one value-semantic handle.
class AnyLayer {
public:
    // Excluding AnyLayer itself first stops the check of Layer<AnyLayer> (which asks whether
    // AnyLayer is copyable, which looks at this constructor again): clang rejects that recursion.
    template <class L>
        requires(!std::is_same_v<L, AnyLayer> && Layer<L>)
    explicit AnyLayer(L layer) : impl_(std::make_unique<Impl<L>>(std::move(layer))) {}

    AnyLayer(const AnyLayer& other) : impl_(other.impl_->clone()) {}
    AnyLayer& operator=(const AnyLayer& other) {
        if (this != &other) impl_ = other.impl_->clone();
        return *this;
    }
    AnyLayer(AnyLayer&&) noexcept = default;
    AnyLayer& operator=(AnyLayer&&) noexcept = default;

    void forward(const Matrix& x, Matrix& y, Mode mode) { impl_->forward(x, y, mode); }
    void backward(const Matrix& x, const Matrix& y, const Matrix& dy, Matrix* dx) { impl_->backward(x, y, dy, dx); }
    std::span<Parameter> parameters() { return impl_->parameters(); }
    std::span<const Parameter> parameters() const { return std::as_const(*impl_).parameters(); }
    bool opens_dimension() const { return impl_->opens_dimension(); }
    void set_input_scale(float s) { impl_->set_input_scale(s); }
    /// Columns per channel of the input / output, 0 for layers that are not Spatial.
    std::size_t input_span() const { return impl_->input_span(); }
    std::size_t output_span() const { return impl_->output_span(); }
    void set_batch_rows(std::span<const std::uint32_t> rows) { impl_->set_batch_rows(rows); }
    std::string type_name() const { return impl_->type_name(); }

    /// The concrete layer, or nullptr when it is not an L.
    template <class L> L* as() {
        auto* typed = dynamic_cast<Impl<L>*>(impl_.get());
        return typed ? &typed->layer : nullptr;
    }
    template <class L> const L* as() const {
        auto* typed = dynamic_cast<const Impl<L>*>(impl_.get());
        return typed ? &typed->layer : nullptr;
    }

private:
    struct Interface {
        virtual ~Interface() = default;
        virtual std::unique_ptr<Interface> clone() const = 0;
        virtual void forward(const Matrix&, Matrix&, Mode) = 0;
        virtual void backward(const Matrix&, const Matrix&, const Matrix&, Matrix*) = 0;
        virtual std::span<Parameter> parameters() = 0;
        virtual std::span<const Parameter> parameters() const = 0;
        virtual bool opens_dimension() const = 0;
        virtual void set_input_scale(float) = 0;
        virtual std::size_t input_span() const = 0;
        virtual std::size_t output_span() const = 0;
        virtual void set_batch_rows(std::span<const std::uint32_t>) = 0;
        virtual std::string type_name() const = 0;
    };

    template <Layer L>
    struct Impl final : Interface {
        explicit Impl(L l) : layer(std::move(l)) {}
        std::unique_ptr<Interface> clone() const override { return std::make_unique<Impl>(layer); }
        void forward(const Matrix& x, Matrix& y, Mode m) override { layer.forward(x, y, m); }
        void backward(const Matrix& x, const Matrix& y, const Matrix& dy, Matrix* dx) override {
            layer.backward(x, y, dy, dx);
        }
        std::span<Parameter> parameters() override { return layer.parameters(); }
        std::span<const Parameter> parameters() const override { return layer.parameters(); }
        bool opens_dimension() const override { return L::opens_dimension; }
        void set_input_scale(float s) override {
            if constexpr (InputScalable<L>) layer.set_input_scale(s);
        }
        std::size_t input_span() const override {
            if constexpr (Spatial<L>) return layer.input_span();
            else return 0;
        }
        std::size_t output_span() const override {
            if constexpr (Spatial<L>) return layer.output_span();
            else return 0;
        }
        void set_batch_rows(std::span<const std::uint32_t> rows) override {
            if constexpr (BatchRowsAware<L>) layer.set_batch_rows(rows);
        }
        std::string type_name() const override { return detail::demangled_name(typeid(L).name()); }
        L layer;
    };

    std::unique_ptr<Interface> impl_;
};

}  // namespace ist
