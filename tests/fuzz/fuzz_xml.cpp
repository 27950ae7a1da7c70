// libFuzzer harness for ist::parse_xml_repository and ist::parse_libsvm (the sparse text formats
// of extreme classification). Byte 0 picks the parser and its options; the rest is the text.
// Checks: only DataError / ConfigError naming the input, and every accepted set validates.
#include <ist/data/libsvm.hpp>
#include <ist/data/xml_repository.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 1) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const bool allow_empty = data[0] & 2;
    const std::string name = "sparse.txt";
    ist::SparseDataset d;
    const bool parsed = clean_or_rejected({name}, [&] {
        if (data[0] & 1) d = ist::parse_libsvm(text, name, {.multi_label = (data[0] & 4) != 0, .allow_empty_label_sets = allow_empty});
        else d = ist::parse_xml_repository(text, name, {.allow_empty_label_sets = allow_empty});
    });
    if (parsed && d.size() > 0) {
        try { d.validate(); }
        catch (const ist::DataError& e) { fail(std::string("an accepted set does not validate: ") + e.what()); }
    }
    return 0;
}
