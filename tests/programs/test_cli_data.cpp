// The programs' data options (support/cli_data.hpp) on small files written here: the same rows as
// .npy, .npz and CSV (with a header row, detected) train to the same weights; --test-data replaces
// the random split; IDX files load; bad sources are refused naming the file and the problem;
// under mpiexec (when the build has MPI) an npy source read in shards gives a whole load's weights.
#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <ist/io/npz.hpp>

#include "program_output.hpp"

namespace fs = std::filesystem;

namespace {

fs::path scratch_dir() {
    const fs::path dir = fs::temp_directory_path() / ("ist_cli_data_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

std::string path_of(const std::string& name) { return (scratch_dir() / name).string(); }

std::string train(const std::string& args) { return ist_test::run_program(IST_TRAIN_EXE, "--quiet --rounds 4 --hidden 16,16 " + args); }

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
}

/// 240 rows of 6 features in 3 separable classes, each feature a multiple of 1/8 (exact as text).
struct Rows {
    std::vector<float> x;
    std::vector<std::uint32_t> y;
    static constexpr std::size_t n = 240, f = 6;
    Rows() {
        for (std::size_t i = 0; i < n; ++i) {
            y.push_back(static_cast<std::uint32_t>(i % 3));
            for (std::size_t j = 0; j < f; ++j)
                x.push_back(static_cast<float>((i * 7 + j * 13) % 17) / 8.0f + (j % 3 == i % 3 ? 4.0f : 0.0f));
        }
    }
    /// As CSV, label in column `label_at` (f = last), with an optional header row.
    std::string csv(std::size_t label_at, bool header) const {
        std::ostringstream out;
        if (header) out << "f0,f1,f2,f3,f4,f5,label\n";
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j <= f; ++j) {
                if (j == label_at) out << y[i];
                else out << x[i * f + (j < label_at ? j : j - 1)];
                out << (j == f ? '\n' : ',');
            }
        return out.str();
    }
};

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

/// `rows` as a features / labels .npy pair and as an .npz holding both (x, y), in the scratch folder.
void write_arrays(const Rows& rows, const std::string& x_npy, const std::string& y_npy, const std::string& npz_name) {
    write_bytes(path_of(x_npy), ist::detail::npy::npy_image(rows.x.data(), {Rows::n, Rows::f}));
    write_bytes(path_of(y_npy), ist::detail::npy::npy_image(rows.y.data(), {Rows::n}));
    ist::NpzWriter npz;
    npz.add("x", rows.x.data(), {Rows::n, Rows::f});
    npz.add("y", rows.y);
    npz.write_atomically(path_of(npz_name));
}

}  // namespace

TEST_CASE("cli data: the same rows as npy, npz and csv train to the same weights") {
    const Rows rows;
    write_arrays(rows, "x.npy", "y.npy", "d.npz");
    write_text(path_of("plain.csv"), rows.csv(Rows::f, false));
    write_text(path_of("header.csv"), rows.csv(Rows::f, true));
    write_text(path_of("first.csv"), rows.csv(0, false));

    const std::string from_npy = train("--data npy:" + path_of("x.npy") + "," + path_of("y.npy"));
    CHECK(from_npy.find("exit 0") != std::string::npos);
    const std::string sum = ist_test::checksum_of(from_npy);
    CHECK(ist_test::checksum_of(train("--data npz:" + path_of("d.npz"))) == sum);
    CHECK(ist_test::checksum_of(train("--data csv:" + path_of("plain.csv"))) == sum);
    CHECK(ist_test::checksum_of(train("--data csv:" + path_of("first.csv") + " --label-column 0")) == sum);
    const std::string detected = train("--data csv:" + path_of("header.csv"));
    CHECK(ist_test::checksum_of(detected) == sum);
    CHECK(detected.find("ist-train: note: " + path_of("header.csv") + ": the first line is not numbers: read as a header row") !=
          std::string::npos);
    const std::string given = train("--data csv:" + path_of("header.csv") + " --header");
    CHECK(ist_test::checksum_of(given) == sum);
    CHECK(given.find("note:") == std::string::npos);
}

TEST_CASE("cli data: --test-data replaces the random split, in ist-train and ist-predict") {
    const Rows rows;
    write_text(path_of("train.csv"), rows.csv(Rows::f, false));
    const std::string all = rows.csv(Rows::f, true);
    std::size_t cut = 0;
    for (int line = 0; line < 31; ++line) cut = all.find('\n', cut) + 1;
    write_text(path_of("test.csv"), all.substr(0, cut));  // the header and 30 rows
    const std::string test_rows = "30";
    const std::string data = "--data csv:" + path_of("train.csv") + " --test-data csv:" + path_of("test.csv");
    const std::string out = ist_test::run_program(IST_TRAIN_EXE, "--rounds 4 --hidden 16,16 --save-model " + path_of("m.npz") + " " + data);
    CHECK(out.find("(240 train / " + test_rows + " test rows)") != std::string::npos);
    CHECK(out.find("exit 0") != std::string::npos);
    const std::string predicted = ist_test::run_program(IST_PREDICT_EXE, "--model " + path_of("m.npz") + " " + data);
    CHECK(predicted.find("(" + test_rows + " test rows)") != std::string::npos);
    CHECK(predicted.find("exit 0") != std::string::npos);
}

TEST_CASE("cli data: idx image and label files load") {
    // 90 images of 2x3 pixels: class c lights pixel c.
    std::vector<unsigned char> images{0, 0, 8, 3, 0, 0, 0, 90, 0, 0, 0, 2, 0, 0, 0, 3}, labels{0, 0, 8, 1, 0, 0, 0, 90};
    for (unsigned i = 0; i < 90; ++i) {
        labels.push_back(static_cast<unsigned char>(i % 3));
        for (unsigned p = 0; p < 6; ++p) images.push_back(static_cast<unsigned char>(p == i % 3 ? 200 + i % 50 : i * p % 40));
    }
    write_bytes(path_of("images.idx"), images);
    write_bytes(path_of("labels.idx"), labels);
    const std::string out = train("--data idx:" + path_of("images.idx") + "," + path_of("labels.idx"));
    CHECK(out.find("exit 0") != std::string::npos);
    CHECK(out.find("final test accuracy") != std::string::npos);
}

TEST_CASE("cli data: bad sources are refused naming the option or the file") {
    const Rows rows;
    write_text(path_of("ok.csv"), rows.csv(Rows::f, false));
    write_text(path_of("narrow.csv"), "1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    ist::NpzWriter npz;
    npz.add("features", rows.x.data(), {Rows::n, Rows::f});
    npz.write_atomically(path_of("keys.npz"));
    const auto refuses = [](const std::string& args, const std::string& message) {
        const std::string out = train(args);
        INFO(out);
        CHECK(out.find("ist-train: error: " + message) != std::string::npos);
        CHECK(out.find("exit 2") != std::string::npos);
    };
    refuses("--data parquet:x.pq", "--data: 'parquet:x.pq' is not a data source (digits | fashion-mnist | idx:");
    refuses("--data npy:only.npy", "--data: 'npy:only.npy' needs two files, npy:FEATURES,LABELS");
    refuses("--data csv:a.csv,b.csv", "--data: 'csv:a.csv,b.csv' needs one file, csv:PATH");
    refuses("--test-data idx:a", "--test-data: 'idx:a' needs two files, idx:IMAGES,LABELS");
    refuses("--header", "--header and --label-column apply to csv: sources, and neither --data nor --test-data is one");
    refuses("--data csv:" + path_of("missing.csv"), path_of("missing.csv") + ": cannot open (No such file or directory)");
    refuses("--data npz:" + path_of("keys.npz"),
            path_of("keys.npz") + ": missing key 'x' (no member 'x.npy'; members: features.npy); npz: needs arrays x "
                                  "(features) and y (labels)");
    refuses("--data csv:" + path_of("ok.csv") + " --label-column 9",
            "load_csv: label_column 9 is outside the 7 columns of " + path_of("ok.csv"));
    refuses("--data csv:" + path_of("ok.csv") + " --test-data csv:" + path_of("narrow.csv"),
            path_of("narrow.csv") + " (--test-data): 2 features per row, but " + path_of("ok.csv") + " (--data) has 6");
}

#ifdef IST_MPIEXEC
TEST_CASE("cli data: under mpiexec an npy source read in shards trains to the weights of a whole load") {
    // OpenMPI refuses root and more ranks than cores without these (as tests/mpi sets them).
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    ::setenv("IST_MPI_TIMEOUT", "60", 1);
    const Rows rows;
    write_arrays(rows, "mx.npy", "my.npy", "m.npz");
    const std::string npy = "--data npy:" + path_of("mx.npy") + "," + path_of("my.npy");
    const std::string whole = "--data npz:" + path_of("m.npz");
    for (const char* np : {"2", "4"}) {
        for (const std::string& extra : std::vector<std::string>{"", " --train-rows 150", " --test-data npz:" + path_of("m.npz")}) {
            CAPTURE(np);
            CAPTURE(extra);
            const std::string args = std::string(IST_MPIEXEC) + " -np " + np + " " + IST_TRAIN_EXE +
                                     " --quiet --rounds 4 --hidden 16,16 --transport mpi --workers " + np + extra + " ";
            const std::string sharded = ist_test::run_program(args, npy), loaded_whole = ist_test::run_program(args, whole);
            CHECK(sharded.find("exit 0") != std::string::npos);
            CHECK(ist_test::checksum_of(sharded) == ist_test::checksum_of(loaded_whole));
            // One process (threads) deals the same rows: the same weights again.
            CHECK(ist_test::checksum_of(train("--workers " + std::string(np) + extra + " " + npy)) == ist_test::checksum_of(sharded));
        }
    }
}
#endif
