// Data parallel with a lossy codec (exchange/coded_all_reduce.hpp): the gradients all-reduced every
// step travel coded; bytes follow the codec's formula, threads == serial bit for bit, fp32 is
// today's all-reduce, error feedback's residuals and means match a hand-written loop and resume
// from a checkpoint bit-identically, and bad settings are refused. Uncoded, the gradients travel in
// buckets across a wire and are all-reduced where they lie in process.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include <ist/codec/any_codec.hpp>
#include <ist/exchange/coded_all_reduce.hpp>
#include <ist/ist.hpp>

#include "../helpers.hpp"

using namespace ist;

namespace {

Network dp_mlp() { return make_mlp({12, {16, 16}, 3, Norm::Batch, 5}); }
Dataset dp_train_set() { return test::blobs(400, 12, 3, 1); }
Dataset dp_test_set() { return test::blobs(120, 12, 3, 2); }

template <class T = ThreadsTransport, Codec C = Fp32>
IstTrainer<Network, FullModel, Sgd, GradientAllReduce, T, C> data_parallel(Network& net, const TrainerOptions& o,
                                                                           C codec = C()) {
    return IstTrainer(net, o, FullModel{}, Sgd(0.05f), GradientAllReduce{}, T(), codec);
}

template <class T = ThreadsTransport, Codec C = Fp32>
TrainResult train_dp(Network& net, const TrainerOptions& o, C codec = C()) {
    return data_parallel<T>(net, o, codec).train(dp_train_set(), dp_test_set());
}

/// The gradients of make_mlp({12, {16, 16}, 3}) (no output bias), one row per output neuron and
/// one per vector: weights 16 x 12, 16 x 16, 3 x 16 and four batch-norm vectors of 16, each coded
/// as rows x (8 + ceil(cols x bits / 8)) bytes.
std::uint64_t uniform_gradient_bytes(unsigned bits) {
    auto row = [&](std::size_t cols) { return 8 + (cols * bits + 7) / 8; };
    return 16 * row(12) + 4 * row(16) + 16 * row(16) + 3 * row(16);
}
constexpr std::uint64_t kGradientFloats = 16 * 12 + 4 * 16 + 16 * 16 + 3 * 16;

}  // namespace

TEST_CASE("coded all-reduce: bytes = S x l x 2 x the coded gradients, per round") {
    for (std::size_t S : {2u, 4u}) {
        const std::size_t l = 3;
        const TrainerOptions o = test::test_options(S, l, 2, 16, 7);
        Network f = dp_mlp(), half = dp_mlp(), q8 = dp_mlp(), q5 = dp_mlp();
        CHECK(train_dp(f, o).history[0].bytes == S * l * 2 * kGradientFloats * 4);
        CHECK(train_dp(half, o, Fp16{}).history[1].bytes == S * l * 2 * kGradientFloats * 2);
        CHECK(train_dp(q8, o, Uniform(8)).history[0].bytes == S * l * 2 * uniform_gradient_bytes(8));
        CHECK(train_dp(q5, o, AnyCodec::parse("q5")).history[1].bytes == S * l * 2 * uniform_gradient_bytes(5));
    }
}

TEST_CASE("coded all-reduce: fp32 is today's all-reduce, a lossy codec changes the weights") {
    const TrainerOptions o = test::test_options(2, 3, 3, 16, 7);
    Network a = dp_mlp(), b = dp_mlp(), c = dp_mlp();
    train_dp(a, o);
    train_dp(b, o, AnyCodec::parse("fp32"));
    train_dp(c, o, AnyCodec::parse("q4"));
    CHECK(test::same_parameters(a, b));
    CHECK(!test::same_parameters(a, c));
}

TEST_CASE("coded all-reduce: threads == serial bit for bit (q4, error feedback)") {
    TrainerOptions o = test::test_options(4, 3, 4, 16, 9);
    o.error_feedback = true;
    Network a = dp_mlp(), b = dp_mlp(), c = dp_mlp();
    const TrainResult ra = train_dp(a, o, AnyCodec::parse("q4"));
    const TrainResult rb = train_dp<SerialTransport>(b, o, AnyCodec::parse("q4"));
    CHECK(test::same_parameters(a, b));
    CHECK(ra.history.back().total_bytes == rb.history.back().total_bytes);
    o.error_feedback = false;
    train_dp(c, o, AnyCodec::parse("q4"));
    CHECK(!test::same_parameters(a, c));  // the residuals did take part
}

TEST_CASE("coded all-reduce: q8 gradients train as well as fp32 on blobs") {
    const TrainerOptions o = test::test_options(2, 5, 10, 32, 3);
    Network f = dp_mlp(), q = dp_mlp();
    const double fp32 = train_dp(f, o).final_test->accuracy;
    const double q8 = train_dp(q, o, Uniform(8)).final_test->accuracy;
    CHECK(q8 >= fp32 - 0.05);
}

TEST_CASE("coded all-reduce: error-feedback residuals are checkpointed and resuming is bit-identical") {
    const std::string path = (std::filesystem::temp_directory_path() / "ist_coded_all_reduce_ef.npz").string();
    TrainerOptions o = test::test_options(2, 3, 4, 16, 5);
    o.error_feedback = true;
    Network straight = dp_mlp();
    train_dp(straight, o, AnyCodec::parse("q3"));
    Network first = dp_mlp();
    {
        auto t = data_parallel(first, o, AnyCodec::parse("q3"));
        t.set_rounds(2);
        t.train(dp_train_set(), dp_test_set());
        t.save_checkpoint(path);
    }
    Network resumed = dp_mlp();
    auto t = data_parallel(resumed, o, AnyCodec::parse("q3"));
    t.load_checkpoint(path);
    t.train(dp_train_set(), dp_test_set());
    CHECK(test::same_parameters(straight, resumed));
    std::filesystem::remove(path);
}

TEST_CASE("coded all-reduce: coded updates make no sense for gradients and are refused") {
    Network net = dp_mlp();
    TrainerOptions o = test::test_options(2, 1, 1, 16, 1);
    o.coded_values = CodedValues::Updates;
    CHECK_THROWS_WITH_AS(data_parallel(net, o, Uniform(4)),
                         "IstTrainer: codec q4: data parallel codes its gradients; coded updates apply to exchanged "
                         "subnets only",
                         ConfigError);
    CHECK(test::same_parameters(net, dp_mlp()));
}

namespace {

/// A package with nothing in it: these rounds only all-reduce.
struct NoPackage {
    std::vector<Tensor*> tensors() { return {}; }
    std::span<double> scalars() { return {}; }
};

/// Worker s's 6 x 16 values (s + i / 100), coded with `bits` from its own stream, all-reduced
/// coded (the mean coded from a stream every worker shares); returns the mean it decoded.
std::vector<float> coded_toy_mean(Communicator& comm, unsigned bits) {
    const std::size_t rows = 6, cols = 16, s = comm.worker();
    std::vector<float> values(rows * cols);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(s) + 0.01f * static_cast<float>(i);
    const Uniform codec(bits);
    CodingRng up = coding_stream(1, 0, s, Direction::ToCoordinator), down = coding_stream(1, 0, 0, Direction::ToWorker);
    std::vector<char> contribution;
    codec.encode(values, cols, contribution, up);
    detail::GradientCoding<Uniform> coding(codec, {rows, cols}, down);
    comm.allreduce_coded_mean(contribution, values, coding);
    return values;
}

}  // namespace

TEST_CASE("coded all-reduce: the mean of the decoded contributions, coded once, is what every worker decodes") {
    const std::size_t S = 3, rows = 6, cols = 16;
    std::vector<std::vector<float>> got(S);
    ThreadsTransport().round(
        S, [](std::size_t) { return NoPackage{}; },
        [&](NoPackage&, Communicator& comm) { got[comm.worker()] = coded_toy_mean(comm, 5); }, Replicas::Persistent);
    // The oracle: decode each worker's coding, sum in worker order, times 1/S, code with the shared stream.
    const Uniform codec(5);
    std::vector<float> sum(rows * cols, 0.0f), decoded(rows * cols);
    for (std::size_t s = 0; s < S; ++s) {
        std::vector<float> values(rows * cols);
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(s) + 0.01f * static_cast<float>(i);
        CodingRng up = coding_stream(1, 0, s, Direction::ToCoordinator);
        std::vector<char> bytes;
        codec.encode(values, cols, bytes, up);
        codec.decode(bytes.data(), cols, decoded);
        for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += decoded[i];
    }
    for (float& v : sum) v *= 1.0f / static_cast<float>(S);
    CodingRng down = coding_stream(1, 0, 0, Direction::ToWorker);
    std::vector<char> bytes;
    codec.encode(sum, cols, bytes, down);
    codec.decode(bytes.data(), cols, decoded);
    for (std::size_t s = 0; s < S; ++s) CHECK(got[s] == decoded);
}

TEST_CASE("coded all-reduce: a coded contribution of the wrong length is refused before decoding") {
    // Workers 0 and 1 code q8 (6 rows of 8 + 16 bytes), worker 2 q4 (6 rows of 8 + 8 bytes).
    ThreadsTransport transport;
    CHECK_THROWS_WITH_AS(transport.round(
                             3, [](std::size_t) { return NoPackage{}; },
                             [](NoPackage&, Communicator& comm) { coded_toy_mean(comm, comm.worker() == 2 ? 4 : 8); },
                             Replicas::Persistent),
                         "allreduce_coded_mean: worker 2 sent a coded contribution of 96 bytes, 144 expected (the "
                         "workers code with different codecs or tensor shapes); refused before decoding",
                         std::logic_error);
}

namespace {

/// Worker s's gradient at step t, different per worker and step. Multiples of 1/8 up to 33: any
/// product here is exact, so a fused multiply-add in either loop cannot change a bit.
float toy_gradient(std::size_t s, std::size_t t, std::size_t i) {
    return (static_cast<float>((7 * i + 13 * s + 5 * t) % 23) - 11.0f) * 0.125f * static_cast<float>(1 + s);
}

}  // namespace

TEST_CASE("coded all-reduce: error feedback's residuals and means match a hand-written loop over 4 steps") {
    const std::size_t S = 3, rows = 3, cols = 11, steps = 4, n = rows * cols;
    const std::uint64_t seed = 5;
    const Uniform codec(3);
    std::vector<std::vector<float>> got_mean(S), got_residual(S);
    std::vector<std::vector<std::vector<float>>> means(steps, std::vector<std::vector<float>>(S));
    // The library: one persistent replica per worker keeps its residual across the steps.
    std::vector<Parameter> params(S);
    std::vector<std::vector<Tensor>> residuals(S);
    for (std::size_t s = 0; s < S; ++s) {
        params[s].grad = Tensor::from_shape({rows, cols});
        residuals[s].push_back(xt::zeros<float>({rows, cols}));
    }
    for (std::size_t t = 0; t < steps; ++t)
        ThreadsTransport().round(
            S, [](std::size_t) { return NoPackage{}; },
            [&](NoPackage&, Communicator& comm) {
                const std::size_t s = comm.worker();
                for (std::size_t i = 0; i < n; ++i) params[s].grad.data()[i] = toy_gradient(s, t, i);
                Parameter* p = &params[s];
                detail::coded_allreduce_mean(codec, std::span<Parameter* const>(&p, 1), &residuals[s], seed, t, comm);
                means[t][s].assign(p->grad.data(), p->grad.data() + n);
            },
            Replicas::Persistent);
    // The oracle: coded = encode(g + r); r = (g + r) - decode(coded); the mean of the decoded
    // contributions (worker order, times 1/S) coded once with the coordinator's stream.
    std::vector<std::vector<float>> residual(S, std::vector<float>(n, 0.0f));
    for (std::size_t t = 0; t < steps; ++t) {
        std::vector<float> sum(n, 0.0f), decoded(n);
        for (std::size_t s = 0; s < S; ++s) {
            std::vector<float> values(n);
            for (std::size_t i = 0; i < n; ++i) values[i] = toy_gradient(s, t, i) + residual[s][i];
            CodingRng up = detail::gradient_stream(seed, t, s, Direction::ToCoordinator);
            std::vector<char> bytes;
            codec.encode(values, cols, bytes, up);
            codec.decode(bytes.data(), cols, decoded);
            for (std::size_t i = 0; i < n; ++i) {
                residual[s][i] = values[i] - decoded[i];
                sum[i] += decoded[i];
            }
        }
        for (float& v : sum) v *= 1.0f / static_cast<float>(S);
        CodingRng down = detail::gradient_stream(seed, t, S, Direction::ToWorker);
        std::vector<char> bytes;
        codec.encode(sum, cols, bytes, down);
        codec.decode(bytes.data(), cols, decoded);
        for (std::size_t s = 0; s < S; ++s) CHECK_MESSAGE(means[t][s] == decoded, "step " << t << ", worker " << s);
    }
    for (std::size_t s = 0; s < S; ++s) {
        const std::vector<float> kept(residuals[s][0].data(), residuals[s][0].data() + n);
        CHECK_MESSAGE(kept == residual[s], "worker " << s);
        CHECK(std::any_of(kept.begin(), kept.end(), [](float r) { return r != 0.0f; }));
    }
}

namespace {

/// The worker's Communicator, with where the floats of every allreduce_mean it passed on lie. It
/// says it is not in process (so the buckets pack even over threads) unless told to pass on the
/// real communicator's answer.
class CountingCommunicator final : public Communicator {
public:
    explicit CountingCommunicator(Communicator& comm, bool passes_in_process = false)
        : comm_(comm), passes_in_process_(passes_in_process) {}
    std::size_t worker() const override { return comm_.worker(); }
    std::size_t workers() const override { return comm_.workers(); }
    bool in_process() const override { return passes_in_process_ && comm_.in_process(); }
    void allreduce_mean(std::span<float> data) override {
        reduced.push_back(data);
        comm_.allreduce_mean(data);
    }
    void allreduce_coded_mean(std::span<const char> contribution, std::span<float> mean, ReductionCoding& coding) override {
        comm_.allreduce_coded_mean(contribution, mean, coding);
    }
    std::vector<std::size_t> lengths() const {
        std::vector<std::size_t> out;
        for (std::span<float> r : reduced) out.push_back(r.size());
        return out;
    }
    std::vector<std::span<float>> reduced;

private:
    Communicator& comm_;
    bool passes_in_process_;
};

/// Worker s's gradient values, position i of all its gradients' floats: mixed magnitudes, so the
/// sum's order shows in the bits. Stored before the oracle adds them (a sum over the products
/// could be contracted into fused multiply-adds, which round otherwise).
std::vector<std::vector<float>> gradient_values(std::size_t S, std::size_t n) {
    std::vector<std::vector<float>> values(S, std::vector<float>(n));
    for (std::size_t s = 0; s < S; ++s)
        for (std::size_t i = 0; i < n; ++i) {
            const float unit = static_cast<float>((i * 7919 + s * 104729) % 211) / 211.0f - 0.5f;
            values[s][i] = unit * (1.0f + 3.0f * static_cast<float>(s));
        }
    return values;
}

}  // namespace

TEST_CASE("coded all-reduce: fp32 gradients travel in buckets, one all-reduce each, every value the ordered mean bit for bit") {
    const std::size_t S = 3, bucket = 7;
    const std::vector<std::size_t> sizes{3, 20, 1, 9};  // 33 floats: buckets of 7 cut across parameters
    std::vector<std::vector<Parameter>> params(S);
    std::vector<std::vector<std::size_t>> lengths(S);
    const std::vector<std::vector<float>> values = gradient_values(S, 33);
    ThreadsTransport().round(
        S, [](std::size_t) { return NoPackage{}; },
        [&](NoPackage&, Communicator& comm) {
            const std::size_t s = comm.worker();
            std::size_t i = 0;
            for (std::size_t n : sizes) {
                Parameter& p = params[s].emplace_back();
                p.grad = xt::zeros<float>({n});
                for (float& g : p.grad) g = values[s][i++];
            }
            std::vector<Parameter*> pointers;
            for (Parameter& p : params[s]) pointers.push_back(&p);
            CountingCommunicator counting(comm);
            detail::allreduce_in_buckets(pointers, counting, bucket);
            lengths[s] = counting.lengths();
        },
        Replicas::Persistent);
    // ceil(33 / 7) = 5 all-reduces, all full but the last.
    for (std::size_t s = 0; s < S; ++s) CHECK(lengths[s] == std::vector<std::size_t>{7, 7, 7, 7, 5});
    std::size_t wrong = 0;
    for (std::size_t s = 0; s < S; ++s) {
        std::size_t i = 0;
        for (const Parameter& p : params[s])
            for (float g : p.grad) {
                float sum = 0.0f;  // the hand-written ordered mean: workers 0, 1, 2 from +0, times 1/S
                for (std::size_t w = 0; w < S; ++w) sum += values[w][i];
                wrong += g != sum * (1.0f / static_cast<float>(S));
                ++i;
            }
    }
    CHECK(wrong == 0);
}

namespace {

/// What one worker's all-reduces were over a run: every length, and how many did not reduce the
/// replica's own gradient at that position (its address and length).
struct WorkerReductions {
    std::vector<std::size_t> lengths;
    std::size_t elsewhere = 0;
};

/// ThreadsTransport, with each worker's all-reduces recorded through a CountingCommunicator that
/// passes on the real communicator's in_process().
class RecordingThreads {
public:
    static constexpr bool in_process = ThreadsTransport::in_process;
    bool is_coordinator() const { return threads_.is_coordinator(); }
    void handshake(std::size_t workers, std::uint64_t parameters, std::uint64_t fingerprint) const {
        threads_.handshake(workers, parameters, fingerprint);
    }
    bool agree(bool decision) { return threads_.agree(decision); }
    void broadcast(std::span<Tensor* const> tensors) { threads_.broadcast(tensors); }

    template <class Extract, class Work>
    auto round(std::size_t workers, Extract&& extract, Work&& work, Replicas replicas) {
        reductions_->resize(workers);  // before the threads start: each writes only its own entry
        return threads_.round(
            workers, std::forward<Extract>(extract),
            [&work, reductions = reductions_](auto& package, Communicator& comm) {
                CountingCommunicator counting(comm, true);
                work(package, counting);
                if constexpr (requires { package.model; }) {  // not Transport's archetype package
                    const std::vector<Parameter*> gradients = parameter_pointers(package.model);
                    WorkerReductions& mine = (*reductions)[comm.worker()];
                    for (std::size_t k = 0; k < counting.reduced.size(); ++k) {
                        const std::span<float> r = counting.reduced[k];
                        const Tensor& g = gradients[k % gradients.size()]->grad;
                        mine.lengths.push_back(r.size());
                        mine.elsewhere += r.data() != g.data() || r.size() != g.size();
                    }
                }
            },
            replicas);
    }
    const std::vector<WorkerReductions>& reductions() const { return *reductions_; }

private:
    ThreadsTransport threads_;
    std::shared_ptr<std::vector<WorkerReductions>> reductions_ = std::make_shared<std::vector<WorkerReductions>>();
};

}  // namespace

TEST_CASE("coded all-reduce: in process each fp32 gradient is all-reduced where it lies, never packed into a bucket") {
    // Packing over threads would give the same means (bit for bit) at the cost of a copy of every
    // gradient per worker (xml-train's data parallel: 100.5 MiB of heap against its formula's 72.1),
    // so only where the all-reduces go shows it: one per parameter, on the replica's own gradient.
    const std::size_t S = 2, l = 3, rounds = 2;
    Network net = dp_mlp();
    auto trainer = data_parallel<RecordingThreads>(net, test::test_options(S, l, rounds, 16, 7));
    trainer.train(dp_train_set(), dp_test_set());
    // dp_mlp's parameters in order: weight 16 x 12, norm scale and shift 16 + 16, weight 16 x 16,
    // 16 + 16, weight 3 x 16 (the last norm has none).
    const std::vector<std::size_t> step{192, 16, 16, 256, 16, 16, 48};
    std::vector<std::size_t> expected;
    for (std::size_t t = 0; t < rounds * l; ++t) expected.insert(expected.end(), step.begin(), step.end());
    REQUIRE(trainer.transport().reductions().size() == S);
    for (std::size_t s = 0; s < S; ++s) {
        CAPTURE(s);
        CHECK(trainer.transport().reductions()[s].lengths == expected);
        CHECK(trainer.transport().reductions()[s].elsewhere == 0);
    }
}
