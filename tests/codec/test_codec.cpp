// Codecs (ist/codec) and the coded exchange: round-trip error bounds, exact sizes, stochastic
// rounding's bias, byte accounting, bit-identity (Fp32 = default, threads = serial), error
// feedback in checkpoints, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include <ist/codec/any_codec.hpp>
#include <ist/ist.hpp>

#include "../helpers.hpp"

using namespace ist;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = noise(rng);
    return v;
}

template <Codec C>
std::vector<float> round_trip(const C& codec, const std::vector<float>& in, std::size_t cols, std::uint64_t seed = 1,
                              std::size_t* bytes = nullptr) {
    std::vector<char> coded;
    CodingRng rng(seed);
    codec.encode(in, cols, coded, rng);
    if (bytes) *bytes = coded.size();
    std::vector<float> out(in.size());
    codec.decode(coded.data(), cols, out);
    return out;
}

Network small_mlp() { return make_mlp({12, {16, 16}, 3, Norm::Batch, 5}); }
Dataset train_set() { return test::blobs(400, 12, 3, 1); }
Dataset test_set() { return test::blobs(120, 12, 3, 2); }

template <class T = ThreadsTransport, Codec C = Fp32>
TrainResult train(Network& net, TrainerOptions o, C codec = C(), T transport = T()) {
    IstTrainer trainer(net, o, NeuronPartition{}, Sgd(0.05f), HolderAverage{}, transport, codec);
    return trainer.train(train_set(), test_set());
}

/// rows x (8 + ceil(cols * bits / 8)) over a worker's subnet of make_mlp({12, {16, 16}, 3}) at S
/// workers (h = 16 / S neurons per hidden layer): weights h x 12, h x h and 3 x h (a row per output
/// neuron) and four batch-norm vectors of h (one row each).
std::uint64_t uniform_subnet_bytes(std::size_t S, unsigned bits) {
    const std::size_t h = 16 / S;
    auto row = [&](std::size_t cols) { return 8 + (cols * bits + 7) / 8; };
    return h * row(12) + 4 * row(h) + h * row(h) + 3 * row(h);
}

}  // namespace

TEST_CASE("codec: fp16 and bf16 round to nearest even: relative error <= 2^-11 and 2^-8") {
    const std::vector<float> v = random_values(10000, 3, 100.0f);
    const auto h = round_trip(Fp16{}, v, 100), b = round_trip(Bf16{}, v, 100);
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (std::abs(v[i]) < 6.2e-5f) continue;  // fp16 subnormals: absolute error 2^-25 instead
        CHECK(std::abs(h[i] - v[i]) <= std::ldexp(std::abs(v[i]), -11));
        CHECK(std::abs(b[i] - v[i]) <= std::ldexp(std::abs(v[i]), -8));
    }
    // Exact cases: the largest half, a tie rounding to even, overflow, the smallest subnormal.
    CHECK(detail::half_to_float(detail::float_to_half(65504.0f)) == 65504.0f);
    CHECK(detail::half_to_float(detail::float_to_half(1.0f + 0x1p-11f)) == 1.0f);
    CHECK(detail::half_to_float(detail::float_to_half(1.0f + 3 * 0x1p-11f)) == 1.0f + 0x1p-9f);
    CHECK(std::isinf(detail::half_to_float(detail::float_to_half(65520.0f))));
    CHECK(detail::half_to_float(detail::float_to_half(0x1p-24f)) == 0x1p-24f);
    CHECK(detail::half_to_float(detail::float_to_half(0x1p-26f)) == 0.0f);
    CHECK(detail::bfloat16_to_float(detail::float_to_bfloat16(1.0f + 0x1p-8f)) == 1.0f);
    CHECK(detail::bfloat16_to_float(detail::float_to_bfloat16(1.0f + 3 * 0x1p-8f)) == 1.0f + 0x1p-6f);
    std::size_t bytes = 0;
    round_trip(Fp16{}, v, 100, 1, &bytes);
    CHECK(bytes == v.size() * 2);
}

TEST_CASE("codec: Uniform, round to nearest: error <= step / 2 <= range / (2^bits - 1), per row") {
    const std::size_t rows = 7, cols = 33;
    const std::vector<float> v = random_values(rows * cols, 4);
    for (unsigned bits = 2; bits <= 8; ++bits) {
        const auto out = round_trip(Uniform(bits, Rounding::Nearest), v, cols);
        for (std::size_t r = 0; r < rows; ++r) {
            const auto first = v.begin() + static_cast<std::ptrdiff_t>(r * cols);
            const auto [lo, hi] = std::minmax_element(first, first + static_cast<std::ptrdiff_t>(cols));
            const float step = (*hi - *lo) / static_cast<float>((1u << bits) - 1);
            for (std::size_t c = 0; c < cols; ++c)
                CHECK(std::abs(out[r * cols + c] - v[r * cols + c]) <= step * 0.5f * (1 + 1e-5f) + 1e-6f);
        }
    }
}

TEST_CASE("codec: Uniform, stochastic rounding is unbiased and stays within one step") {
    // A row [0, x, 1] at 2 bits: step 1/3; the mean of many codings of x tends to x.
    const std::vector<float> row{0.0f, 0.1f, 0.55f, 1.0f};
    for (unsigned bits : {2u, 4u}) {
        const Uniform q(bits);
        const double step = 1.0 / ((1u << bits) - 1);
        double sum1 = 0, sum2 = 0;
        const int n = 20000;
        for (int k = 0; k < n; ++k) {
            const auto out = round_trip(q, row, row.size(), static_cast<std::uint64_t>(k));
            CHECK(std::abs(out[1] - row[1]) < step + 1e-6);
            sum1 += out[1];
            sum2 += out[2];
            CHECK(out[0] == 0.0f);
        }
        // Standard error <= step / 2 / sqrt(n); 5 standard errors of tolerance.
        const double tolerance = 5 * step / 2 / std::sqrt(double(n));
        CHECK(std::abs(sum1 / n - 0.1) < tolerance);
        CHECK(std::abs(sum2 / n - 0.55) < tolerance);
    }
}

TEST_CASE("codec: bit packing: rows x (8 + ceil(cols x bits / 8)) bytes exactly, values round-trip") {
    for (unsigned bits = 2; bits <= 8; ++bits)
        for (std::size_t cols : {1u, 3u, 7u, 8u, 9u, 17u, 64u}) {
            const std::vector<float> v = random_values(3 * cols, bits * 100 + cols);
            std::size_t bytes = 0;
            round_trip(Uniform(bits), v, cols, 1, &bytes);
            CHECK(bytes == 3 * (8 + (cols * bits + 7) / 8));
            CHECK(Uniform(bits).coded_bytes(3, cols) == bytes);
        }
    std::vector<std::uint8_t> levels(1003);
    for (std::size_t i = 0; i < levels.size(); ++i) levels[i] = static_cast<std::uint8_t>((i * 7) % 32);
    std::vector<char> buffer(detail::packed_bytes(1000, 5));
    detail::pack_levels<5>(levels.data(), 1000, buffer.data());
    bool same = true;
    detail::unpack_levels<5>(buffer.data(), 1000, [&](std::size_t i, std::uint32_t q) { same &= q == levels[i]; });
    CHECK(same);
    const char first[2] = {static_cast<char>(0 | (7 << 5)), static_cast<char>((7 >> 3) | (14 << 2) | ((21 & 1) << 7))};
    CHECK((buffer[0] == first[0] && buffer[1] == first[1]));  // least significant bit first
    CHECK(buffer.size() == 625);  // 5/8 of a byte per value
}

TEST_CASE("codec: codecs by name; bits outside 2..8 are refused") {
    CHECK(AnyCodec::parse("q5").name() == "q5");
    CHECK(AnyCodec::parse("q5-nearest").name() == "q5-nearest");
    CHECK(AnyCodec::parse("bf16").coded_bytes(3, 4) == 24);
    CHECK(AnyCodec::parse("fp32").exact());
    CHECK_THROWS_WITH_AS(Uniform(9), "Uniform codec: bits must be in 2..8, got 9", ConfigError);
    CHECK_THROWS_WITH_AS(Uniform(1), "Uniform codec: bits must be in 2..8, got 1", ConfigError);
    CHECK_THROWS_WITH_AS(AnyCodec::parse("q9"),
                         "codec 'q9' is not one of fp32, fp16, bf16, "
                         "q8, q8-nearest, q8-tensor, q8-tensor-nearest, q7, q7-nearest, q7-tensor, q7-tensor-nearest, "
                         "q6, q6-nearest, q6-tensor, q6-tensor-nearest, q5, q5-nearest, q5-tensor, q5-tensor-nearest, "
                         "q4, q4-nearest, q4-tensor, q4-tensor-nearest, q3, q3-nearest, q3-tensor, q3-tensor-nearest, "
                         "q2, q2-nearest, q2-tensor, q2-tensor-nearest",
                         ConfigError);
    for (const char* bad : {"q4-nearest-tensor", "q4-tensor-", "q4tensor", "q4-row", "Q4", "q10"})
        CHECK_THROWS_AS(AnyCodec::parse(bad), ConfigError);
}

TEST_CASE("codec: qB-tensor and -nearest by name: one header per tensor, rounding as named") {
    // A 4 x 6 tensor: per row 4 headers, per tensor one; both sizes by the formula.
    for (const char* name : {"q4", "q4-nearest", "q4-tensor", "q4-tensor-nearest"}) {
        const AnyCodec codec = AnyCodec::parse(name);
        CHECK(codec.name() == name);
        const bool per_tensor = std::string(name).find("tensor") != std::string::npos;
        CHECK(codec.coded_bytes(4, 6) == (per_tensor ? 8 + 12 : 4 * (8 + 3)));
    }
    // Nearest is deterministic: two engines give the same bytes; stochastic differs somewhere.
    const std::vector<float> v = random_values(24, 3);
    auto coded = [&](const char* name, std::uint64_t seed) {
        std::vector<char> bytes;
        CodingRng rng(seed);
        AnyCodec::parse(name).encode(v, 6, bytes, rng);
        return bytes;
    };
    CHECK(coded("q4-tensor-nearest", 1) == coded("q4-tensor-nearest", 2));
    CHECK(coded("q4-tensor", 1) != coded("q4-tensor", 2));
    for (const std::string& name : AnyCodec::names()) CHECK(AnyCodec::parse(name).name() == name);
}

TEST_CASE("codec: a non-finite value to encode is a TrainingError naming the worker") {
    PackageCoding<Uniform> coding;
    coding.worker = 3;
    Tensor t = xt::ones<float>({2, 3});
    t(1, 2) = std::nanf("");
    std::vector<Tensor*> tensors{&t};
    std::vector<char> out;
    CHECK_THROWS_WITH_AS(coding.encode(tensors, out),
                         "round 0, worker 3: tensor 0 holds a non-finite value, which codec q8 cannot encode; lower the learning rate",
                         TrainingError);
}

TEST_CASE("codec: a coded message of the wrong length is refused before decoding") {
    Network net = small_mlp();
    WorkerPackage<Network, Uniform> sent{net, {}, {}, {}}, received{net, {}, {}, {}};
    const std::vector<char> bytes = detail::pack(sent);
    CHECK(bytes.size() == sent.coded_tensor_bytes() + 2 * sizeof(double));
    std::vector<char> longer = bytes;
    longer.push_back(0);
    const Tensor before = received.model.parameter(0).value;
    CHECK_THROWS_AS(detail::unpack(received, longer), DataError);
    CHECK(received.model.parameter(0).value == before);
    detail::unpack(received, bytes);  // the right length decodes
}

TEST_CASE("codec: Fp32 is the default: an explicit Fp32 or AnyCodec fp32 trains bit-identically") {
    const TrainerOptions o = test::test_options(2, 3, 3, 16, 7);
    Network a = small_mlp(), b = small_mlp(), c = small_mlp();
    const TrainResult ra = train(a, o);
    const TrainResult rb = train(b, o, Fp32{});
    const TrainResult rc = train(c, o, AnyCodec::parse("fp32"));
    CHECK(test::same_parameters(a, b));
    CHECK(test::same_parameters(a, c));
    CHECK(ra.history.back().total_bytes == rc.history.back().total_bytes);
}

TEST_CASE("codec: RoundMetrics::bytes counts the coded bytes exactly") {
    for (std::size_t S : {2u, 4u}) {
        TrainerOptions o = test::test_options(S, 2, 2, 16, 7);
        const std::size_t h = 16 / S;
        const std::uint64_t floats = h * 12 + h + h + h * h + h + h + 3 * h;  // see tests/mpi (no output bias)
        Network f = small_mlp(), q4 = small_mlp(), q5 = small_mlp(), half = small_mlp();
        CHECK(train(f, o).history[0].bytes == S * 2 * floats * 4);
        CHECK(train(half, o, Fp16{}).history[0].bytes == S * 2 * floats * 2);
        CHECK(train(q4, o, Uniform(4)).history[0].bytes == S * 2 * uniform_subnet_bytes(S, 4));
        o.coded_values = CodedValues::Updates;
        CHECK(train(q5, o, Uniform(5)).history[1].bytes == S * 2 * uniform_subnet_bytes(S, 5));
    }
}

TEST_CASE("codec: coded exchange: threads == serial bit for bit (q4, updates, error feedback)") {
    TrainerOptions o = test::test_options(4, 3, 4, 16, 9);
    o.coded_values = CodedValues::Updates;
    o.error_feedback = true;
    Network a = small_mlp(), b = small_mlp();
    const TrainResult ra = train(a, o, AnyCodec::parse("q4"));
    const TrainResult rb = train<SerialTransport>(b, o, AnyCodec::parse("q4"));
    CHECK(test::same_parameters(a, b));
    CHECK(ra.history.back().total_bytes == rb.history.back().total_bytes);
    Network c = small_mlp();
    train(c, test::test_options(4, 3, 4, 16, 9));
    CHECK(!test::same_parameters(a, c));  // the coding did change something
}

TEST_CASE("codec: coded exchange with ResIST: absent blocks cost nothing, error feedback slices per block") {
    TrainerOptions o = test::test_options(4, 2, 3, 16, 4);
    o.coded_values = CodedValues::Updates;
    o.error_feedback = true;
    auto run = [&](auto transport) {
        Network net = make_residual_mlp({.inputs = 12, .width = 8, .hidden = 8, .classes = 3, .blocks = 5, .seed = 2});
        ResistOptions resist;
        resist.min_depth = 2;
        IstTrainer t(net, o, ResistPartition(resist), Sgd(0.05f), HolderAverage{}, transport, Uniform(3));
        t.train(train_set(), test_set());
        return net;
    };
    const Network a = run(ThreadsTransport{}), b = run(SerialTransport{});
    CHECK(test::same_parameters(a, b));
}

TEST_CASE("codec: a master copy keeps the downlink's rounding out of the model") {
    // Updates of about 1e-12 of the weights (lr 1e-12) vanish when added to them, and code to
    // about that: with a master copy the model stays where it started (to 1e-9, for the parameters
    // that start at 0); without one it becomes the 3-bit decoded downlink, far from it.
    TrainerOptions o = test::test_options(2, 1, 3, 16, 4);
    o.coded_values = CodedValues::Updates;
    auto run = [&](bool master_copy) {
        o.master_copy = master_copy;
        Network net = small_mlp();
        IstTrainer(net, o, NeuronPartition{}, Sgd(1e-12f), HolderAverage{}, ThreadsTransport{}, Uniform(3))
            .train(train_set(), test_set());
        return net;
    };
    const Network start = small_mlp(), kept = run(true), rounded = run(false);
    double kept_off = 0, rounded_off = 0;
    for (std::size_t i = 0; i < start.parameter_count(); ++i) {
        const Tensor& a = start.parameter(i).value;
        kept_off = std::max(kept_off, static_cast<double>(xt::amax(xt::abs(kept.parameter(i).value - a))()));
        rounded_off = std::max(rounded_off, static_cast<double>(xt::amax(xt::abs(rounded.parameter(i).value - a))()));
    }
    CHECK(kept_off < 1e-9);
    CHECK(rounded_off > 1e-3);
}

TEST_CASE("codec: master copy: threads == serial bit for bit (q4-tensor updates, error feedback)") {
    TrainerOptions o = test::test_options(4, 3, 4, 16, 9);
    o.coded_values = CodedValues::Updates;
    o.error_feedback = true;
    o.master_copy = true;
    Network a = small_mlp(), b = small_mlp(), c = small_mlp();
    train(a, o, AnyCodec::parse("q4-tensor"));
    train<SerialTransport>(b, o, AnyCodec::parse("q4-tensor"));
    CHECK(test::same_parameters(a, b));
    o.master_copy = false;
    train(c, o, AnyCodec::parse("q4-tensor"));
    CHECK(!test::same_parameters(a, c));  // the master copy did change something
}

TEST_CASE("codec: q8 updates train as well as fp32 on blobs") {
    TrainerOptions o = test::test_options(2, 5, 10, 32, 3);
    Network f = small_mlp(), q = small_mlp();
    const double fp32 = train(f, o).final_test->accuracy;
    o.coded_values = CodedValues::Updates;
    const double q8 = train(q, o, Uniform(8)).final_test->accuracy;
    CHECK(q8 >= fp32 - 0.05);
}

TEST_CASE("codec: error feedback: residuals are checkpointed and resuming is bit-identical") {
    const std::string path = (std::filesystem::temp_directory_path() / "ist_codec_ef_checkpoint.npz").string();
    TrainerOptions o = test::test_options(2, 3, 4, 16, 5);
    o.coded_values = CodedValues::Updates;
    o.error_feedback = true;
    o.optimizer_state = OptimizerState::Carry;
    auto make = [&](Network& net) {
        return IstTrainer(net, o, NeuronPartition{}, MomentumSgd(0.05f, 0.9f), HolderAverage{}, ThreadsTransport{},
                          AnyCodec::parse("q3"));
    };
    Network straight = small_mlp();
    make(straight).train(train_set(), test_set());

    Network first = small_mlp();
    {
        auto t = make(first);
        t.set_rounds(2);
        t.train(train_set(), test_set());
        t.save_checkpoint(path);
    }
    Network resumed = small_mlp();
    auto t = make(resumed);
    t.load_checkpoint(path);
    t.train(train_set(), test_set());
    CHECK(test::same_parameters(straight, resumed));

    // Another coding, or no error feedback: a ConfigError, the model untouched.
    for (const char* codec : {"q4", "q3"}) {
        TrainerOptions other = o;
        if (std::string(codec) == "q3") other.error_feedback = false;
        Network net = small_mlp();
        IstTrainer wrong(net, other, NeuronPartition{}, MomentumSgd(0.05f, 0.9f), HolderAverage{}, ThreadsTransport{},
                         AnyCodec::parse(codec));
        CHECK_THROWS_AS(wrong.load_checkpoint(path), ConfigError);
        CHECK(test::same_parameters(net, small_mlp()));
    }
    std::filesystem::remove(path);
}

TEST_CASE("codec: coding settings no exchange can carry out are refused") {
    Network net = small_mlp();
    TrainerOptions o = test::test_options(2, 1, 1, 16, 1);
    o.coded_values = CodedValues::Updates;
    CHECK_THROWS_WITH_AS(IstTrainer(net, o), "IstTrainer: codec fp32 is exact: coded updates and error feedback need a lossy codec (fp16, bf16, q2..q8)", ConfigError);
    o.coded_values = CodedValues::Weights;
    o.error_feedback = true;
    CHECK_THROWS_AS(IstTrainer(net, o, NeuronPartition{}, Sgd(), HolderAverage{}, ThreadsTransport{}, Uniform(4)), ConfigError);
    // Data parallel codes its gradients (test_coded_all_reduce.cpp), but not their "updates".
    o.error_feedback = false;
    o.coded_values = CodedValues::Updates;
    CHECK_THROWS_WITH_AS(
        IstTrainer(net, o, FullModel{}, Sgd(), GradientAllReduce{}, ThreadsTransport{}, Uniform(4)),
        "IstTrainer: codec q4: data parallel codes its gradients; coded updates apply to exchanged subnets only"
        , ConfigError);
    // A master copy only serves coded updates of exchanged subnets: elsewhere it would be ignored.
    const std::string master = "TrainerOptions: master_copy needs coded_values = CodedValues::Updates with a lossy "
                               "codec on exchanged subnets (the coordinator adds the decoded updates to it; coded "
                               "weights and data parallel's gradients would ignore it)";
    o.master_copy = true;
    o.coded_values = CodedValues::Weights;
    CHECK_THROWS_WITH_AS(IstTrainer(net, o, NeuronPartition{}, Sgd(), HolderAverage{}, ThreadsTransport{}, Uniform(4)),
                         master.c_str(), ConfigError);
    CHECK_THROWS_WITH_AS(IstTrainer(net, o, FullModel{}, Sgd(), GradientAllReduce{}, ThreadsTransport{}, Uniform(4)),
                         master.c_str(), ConfigError);
    CHECK_THROWS_WITH_AS(IstTrainer(net, o), master.c_str(), ConfigError);  // fp32: nothing is coded
    o.coded_values = CodedValues::Updates;
    CHECK_NOTHROW(IstTrainer(net, o, NeuronPartition{}, Sgd(), HolderAverage{}, ThreadsTransport{}, Uniform(4)));
}
