// libFuzzer harness for the checkpoint reader: ist::read_checkpoint (NpzArchive from memory +
// every check) into a fixed small MLP, as IstTrainer::load_checkpoint calls it. Byte 0: bit 0
// recomputes the members' CRC-32 so mutations inside members reach the checkpoint checks instead
// of stopping at the CRC. The rest is the file. Checks: only DataError / ConfigError naming the
// input, and after a refused file the model's parameters and the run state are exactly what they
// were before.
#include "checkpoint_setup.hpp"
#include "fuzz_common.hpp"

namespace {

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
    static const ist::Network initial = checkpoint_model();
    static const ist::RunState initial_state = checkpoint_state(initial);
    Bytes archive(data + 1, data + size);
    if (data[0] & 1) fix_zip_crcs(archive);
    const std::string name = "checkpoint.npz";
    ist::Network net = initial;
    ist::RunState state = initial_state;
    const std::size_t workers = checkpoint_options().workers;
    if (!clean_or_rejected({name}, [&] { ist::read_checkpoint(ist::NpzArchive(archive, name), net, state, workers); })) {
        if (!same_parameters(net, initial)) fail("a refused checkpoint changed the model's parameters");
        if (state.rounds_done != 0 || state.streams.samplers.size() != 0 || state.optimizer_state.size() != initial_state.optimizer_state.size())
            fail("a refused checkpoint changed the run state");
    }
    return 0;
}
