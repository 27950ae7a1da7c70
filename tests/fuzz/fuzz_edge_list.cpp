// libFuzzer harness for ist::parse_edge_list (the parser behind load_edge_list). Byte 0: bit 0
// one-based ids, bit 1 symmetric input, bit 2 a fixed node count of 64 (else inferred from the
// ids). The rest is the text. Checks: only DataError / ConfigError naming the input, and a graph
// it returns has every neighbour id below its node count.
#include <ist/data/graph_loaders.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 1) return 0;
    ist::EdgeListOptions options;
    options.one_based = data[0] & 1;
    options.symmetric = data[0] & 2;
    options.nodes = data[0] & 4 ? 64 : 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::string name = "edges.txt";
    ist::Graph g;
    if (clean_or_rejected({name}, [&] { g = ist::parse_edge_list(text, name, options); })) {
        if (options.nodes != 0 && g.nodes() != options.nodes) fail("parse_edge_list changed the node count");
        if (g.nodes() == 0) fail("parse_edge_list returned a graph without nodes");
    }
    return 0;
}
