// The core vocabulary against independent oracles: Fingerprint is FNV-1a 64 (the published test
// vectors), errors cross a process boundary as (kind, message) and come back as the same type,
// labels are checked with messages naming the row, and a plan's derived dimensions expand their
// parent's indices column by column.
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include <ist/core/error.hpp>
#include <ist/core/fingerprint.hpp>
#include <ist/core/labels.hpp>
#include <ist/core/plan.hpp>

namespace {

/// FNV-1a 64 of raw bytes, written from the definition (offset basis, prime) as the oracle.
std::uint64_t fnv1a(const std::string& bytes) {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    return h;
}

template <class E>
std::string kind_after_round_trip(const std::string& message) {
    const ist::detail::ErrorReport report = ist::detail::report_error(std::make_exception_ptr(E(message)));
    try {
        ist::detail::throw_error(report.kind, report.message);
    } catch (const E& e) {
        return std::string("same type: ") + e.what();
    } catch (const std::exception& e) {
        return std::string("other type: ") + e.what();
    }
    return "nothing thrown";
}

}  // namespace

TEST_CASE("core: Fingerprint's mixing is FNV-1a 64 (published vectors) and adds a string's length after it") {
    // The FNV authors' test vectors for FNV-1a 64: "" and "a".
    CHECK(fnv1a("") == 0xcbf29ce484222325ull);
    CHECK(fnv1a("a") == 0xaf63dc4c8601ec8cull);
    const std::string ab = "ab";
    const std::string length_bytes("\x02\0\0\0\0\0\0\0", 8);  // size 2, little-endian, 8 bytes
    CHECK(ist::Fingerprint().add(std::string_view(ab)).value() == fnv1a(ab + length_bytes));
    // An integer is its 8 bytes, least significant first.
    CHECK(ist::Fingerprint().add(std::uint32_t{0x01020304}).value() == fnv1a(std::string("\x04\x03\x02\x01\0\0\0\0", 8)));
    // The length keeps ("ab", "c") apart from ("a", "bc").
    CHECK(ist::Fingerprint().add(std::string_view("ab")).add(std::string_view("c")).value() !=
          ist::Fingerprint().add(std::string_view("a")).add(std::string_view("bc")).value());
}

TEST_CASE("core: every ist error crosses a process boundary as its kind and comes back as the same type") {
    CHECK(kind_after_round_trip<ist::ConfigError>("bad S") == "same type: bad S");
    CHECK(kind_after_round_trip<ist::DataError>("bad row") == "same type: bad row");
    CHECK(kind_after_round_trip<ist::TrainingError>("NaN") == "same type: NaN");
    CHECK(kind_after_round_trip<ist::RoundAborted>("aborted") == "same type: aborted");
    CHECK(kind_after_round_trip<std::logic_error>("misuse") == "same type: misuse");
    CHECK(kind_after_round_trip<std::runtime_error>("other") == "same type: other");
    CHECK(ist::detail::report_error(nullptr).kind == ist::detail::ErrorKind::None);
    // The values are on MpiTransport's wire: appended, never renumbered.
    CHECK(static_cast<int>(ist::detail::ErrorKind::Logic) == 5);
}

TEST_CASE("core: check_labels names the first out-of-range row and lets kUnlabeled through") {
    const ist::Labels ok{0, 2, ist::kUnlabeled, 1};
    CHECK_NOTHROW(ist::check_labels(ok, 4, 3));
    CHECK(ist::count_labelled(ok) == 3);
    CHECK_THROWS_WITH_AS(ist::check_labels(ist::Labels{0, 3, 4}, 3, 3),
                         "labels: label 3 at row 1 is out of range for 3 classes", ist::DataError);
    CHECK_THROWS_WITH_AS(ist::check_labels(ok, 5, 3), "labels: 4 labels for 5 rows", ist::DataError);
}

TEST_CASE("core: a derived dimension's indices are its parent's, each expanded to `span` columns") {
    ist::DimensionTable dims(3);
    dims[0] = {"channels", 4, true, ist::DimKind::Features, 2, std::nullopt, {}};
    dims[1] = {"columns", 8, false, ist::DimKind::Derived, 2, ist::DimId{0}, {}};
    dims[2] = {"classes", 10, false, ist::DimKind::Features, 1, std::nullopt, {}};
    ist::Plan plan(2, ist::WorkerPlan{std::vector<ist::IndexSet>(3)});
    plan[0].dims[0] = std::vector<std::uint32_t>{1, 3};
    ist::derive_indices(dims, plan);
    CHECK(*plan[0].dims[1] == std::vector<std::uint32_t>{2, 3, 6, 7});
    CHECK_FALSE(plan[1].dims[1].has_value());  // the parent whole: the derived dimension whole
    CHECK(plan[0].held(1, 8) == 4);
    CHECK(plan[1].held(1, 8) == 8);
    CHECK(plan[0].held(ist::kWholeAxis, 5) == 5);
    ist::WorkerPlan short_plan{std::vector<ist::IndexSet>(2)};
    CHECK_THROWS_WITH_AS(ist::derive_indices(dims, short_plan), "derive_indices: the plan has 2 dimensions, the model 3",
                         ist::ConfigError);
}
