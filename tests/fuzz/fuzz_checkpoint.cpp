// libFuzzer harness for the checkpoint reader: IstTrainer::load_checkpoint (NpzArchive +
// read_checkpoint) into a fixed small MLP. Byte 0: bit 0 recomputes the members' CRC-32 so
// mutations inside members reach the checkpoint checks instead of stopping at the CRC. The rest
// is the file. Checks: only DataError / ConfigError naming the file, and after a refused file the
// model's parameters and the trainer's round counter are exactly what they were before.
#include "checkpoint_setup.hpp"
#include "fuzz_common.hpp"

namespace {

struct Fixture {
    ist::Network net = ist_fuzz::checkpoint_model();
    const ist::Network initial = net;
    decltype(ist_fuzz::checkpoint_trainer(net)) trainer = ist_fuzz::checkpoint_trainer(net);
};

bool same_parameters(const ist::Network& a, const ist::Network& b) {
    if (a.parameter_count() != b.parameter_count()) return false;
    for (std::size_t i = 0; i < a.parameter_count(); ++i) {
        const auto& x = a.parameter(i).value;
        const auto& y = b.parameter(i).value;
        // Bitwise, so a NaN written by a half-applied load is still caught.
        if (x.shape() != y.shape() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 1) return 0;
    static Fixture fx;
    Bytes archive(data + 1, data + size);
    if (data[0] & 1) fix_zip_crcs(archive);
    const std::string path = write_file("checkpoint.npz", archive);
    const ist::Network before = fx.net;
    const std::size_t rounds_before = fx.trainer.rounds_done();
    if (clean_or_rejected({path}, [&] { fx.trainer.load_checkpoint(path); })) {
        fx.net = fx.initial;  // every input starts from the same model
    } else {
        if (!same_parameters(fx.net, before)) fail("a refused checkpoint changed the model's parameters");
        if (fx.trainer.rounds_done() != rounds_before) fail("a refused checkpoint changed the round counter");
    }
    return 0;
}
