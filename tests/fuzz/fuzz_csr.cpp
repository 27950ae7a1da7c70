// libFuzzer harness for ist::parse_csr_graph (the parser behind load_csr_graph: a scipy-style CSR
// adjacency, arrays indptr and indices, in an .npz). Byte 0: bit 0 recomputes the members' CRC-32
// so mutations inside members reach the CSR checks. The rest is the archive. Checks: only
// DataError / ConfigError naming the input.
#include <ist/data/graph_loaders.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 1) return 0;
    Bytes archive(data + 1, data + size);
    if (data[0] & 1) fix_zip_crcs(archive);
    const std::string name = "graph.npz";
    ist::Graph g;
    if (clean_or_rejected({name}, [&] { g = ist::parse_csr_graph(archive, name); })) {
        if (g.nodes() == 0) fail("parse_csr_graph returned a graph without nodes");
    }
    return 0;
}
