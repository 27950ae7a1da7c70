// ist-predict --input from the model file alone (issue 32), run as a user runs it: ist-train
// --save-model on a CSV with a header, then the labelled test file scores the accuracy and loss
// ist-train printed for its saved model; new rows (features only, from a file, standard input,
// .npy, .npz) get the same predictions; one row alone gets the line it gets in a batch of 1000;
// a file of the wrong width is refused naming both counts; and every output path of every
// program is checked before any training, with the exact message.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <ist/io/npz.hpp>

#include "program_output.hpp"
#include "../scratch.hpp"

namespace fs = std::filesystem;

namespace {

std::string predict_path(const std::string& name) {
    return ist::test::scratch_path("predict", name).string();
}

/// Row i of 6 features in 3 classes (feature j lifted by 3 when j % 3 is the class), exact as text.
std::vector<float> features_of(std::size_t i) {
    std::vector<float> x;
    for (std::size_t j = 0; j < 6; ++j)
        x.push_back(static_cast<float>((i * 7 + j * 13) % 17) / 4.0f + (j % 3 == i % 3 ? 3.0f : 0.0f) + 10.0f);
    return x;
}

/// Rows [first, first + n) as CSV with a header; the label in column 2 when `labelled`.
std::string csv_rows(std::size_t first, std::size_t n, bool labelled) {
    std::ostringstream out;
    out << (labelled ? "a,b,kind,c,d,e,f\n" : "a,b,c,d,e,f\n");
    for (std::size_t i = first; i < first + n; ++i) {
        const std::vector<float> x = features_of(i);
        for (std::size_t j = 0; j < 6; ++j) {
            if (labelled && j == 2) out << i % 3 << ',';
            out << x[j] << (j == 5 ? '\n' : ',');
        }
    }
    return out.str();
}

void predict_write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

/// "test accuracy A, loss L" in `output`, or what was printed instead.
std::string scores_in(const std::string& output, const std::string& after = "") {
    const std::size_t from = output.find("test accuracy ", after.empty() ? 0 : output.find(after));
    return from == std::string::npos ? "none in: " + output : output.substr(from, output.find('\n', from) - from);
}

/// The lines of `text` from line `first` on (0-based), each without its first field (the row number).
std::vector<std::string> lines_without_row(const std::string& text, std::size_t first = 1) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    for (std::size_t k = 0; std::getline(in, line); ++k)
        if (k >= first && line.rfind("exit", 0) != 0) out.push_back(line.substr(line.find(',') + 1));
    return out;
}

/// A model trained on 300 labelled rows (label column 2, named "kind"), saved as `name`.
std::string trained_model(const std::string& name, const std::string& options, std::string* printed = nullptr) {
    predict_write(predict_path("train.csv"), csv_rows(0, 300, true));
    predict_write(predict_path("test.csv"), csv_rows(300, 60, true));
    const std::string model = predict_path(name);
    const std::string out = ist_test::run_program(
        IST_TRAIN_EXE, "--quiet --rounds 6 --hidden 16,16 --label-column 2 --data csv:" + predict_path("train.csv") +
                           " --test-data csv:" + predict_path("test.csv") + " --save-model " + model + " " + options);
    REQUIRE(out.find("exit 0") != std::string::npos);
    if (printed) *printed = out;
    return model;
}

std::string predict(const std::string& args) { return ist_test::run_program(IST_PREDICT_EXE, args); }

}  // namespace

TEST_CASE("predict: the labelled test file scores the accuracy and loss ist-train printed for the saved model") {
    std::string trained;
    const std::string model = trained_model("m.npz", "", &trained);
    const std::string saved = scores_in(trained, "saved " + model);
    CHECK(trained.find("saved " + model + " (input standardisation, batch norm statistics of 300 training rows): test accuracy") !=
          std::string::npos);
    const std::string scored = predict("--model " + model + " --input " + predict_path("test.csv"));
    CHECK(scored.find("exit 0") != std::string::npos);
    CHECK(scores_in(scored) == saved);
    CHECK(scored.find(" (60 test rows)") != std::string::npos);
    CHECK(scored.find("note:") == std::string::npos);  // the file lacks nothing
    // The same rows as npy: (features, labels) and npz (x, y).
    ist::NpzWriter npz;
    std::vector<float> x;
    std::vector<std::uint32_t> y;
    for (std::size_t i = 300; i < 360; ++i) {
        for (float v : features_of(i)) x.push_back(v);
        y.push_back(static_cast<std::uint32_t>(i % 3));
    }
    npz.add("x", x.data(), {60, 6});
    npz.add("y", y);
    npz.write_atomically(predict_path("test.npz"));
    CHECK(scores_in(predict("--model " + model + " --input " + predict_path("test.npz"))) == saved);
    // --top-k: top-1 is the accuracy; the top 3 of 3 classes always hold the label.
    const std::string top = predict("--model " + model + " --input " + predict_path("test.csv") + " --top-k 3");
    CHECK(top.find("top-3 accuracy 1\n") != std::string::npos);
}

TEST_CASE("predict: new rows of features alone get predictions, from a file, standard input, .npy and .npz alike") {
    const std::string model = trained_model("new.npz", "");
    predict_write(predict_path("new.csv"), csv_rows(300, 60, false));
    const std::string from_file = predict("--model " + model + " --input " + predict_path("new.csv"));
    REQUIRE(from_file.find("exit 0") != std::string::npos);
    CHECK(from_file.rfind("row,class,p0,p1,p2\n0,", 0) == 0);
    CHECK(lines_without_row(from_file).size() == 60);
    const std::string piped = ist_test::run_program("cat " + predict_path("new.csv") + " | " + IST_PREDICT_EXE,
                                                    "--model " + model + " --input -");
    CHECK(piped == from_file);
    std::vector<float> x;
    for (std::size_t i = 300; i < 360; ++i)
        for (float v : features_of(i)) x.push_back(v);
    std::ofstream(predict_path("new.npy"), std::ios::binary) << std::string(
        [&] { auto b = ist::detail::npy::npy_image(x.data(), {60, 6}); return std::string(b.begin(), b.end()); }());
    CHECK(predict("--model " + model + " --input " + predict_path("new.npy")) == from_file);
    ist::NpzWriter npz;
    npz.add("x", x.data(), {60, 6});
    npz.write_atomically(predict_path("new_x.npz"));
    CHECK(predict("--model " + model + " --input " + predict_path("new_x.npz")) == from_file);
    // --out PATH writes the same CSV.
    CHECK(predict("--model " + model + " --input " + predict_path("new.csv") + " --out " + predict_path("p.csv")) == "exit 0");
    std::ifstream written(predict_path("p.csv"));
    CHECK(std::string(std::istreambuf_iterator<char>(written), {}) + "exit 0" == from_file);
    // --top-k 2: the two most probable classes of each row.
    const std::string top = predict("--model " + model + " --input " + predict_path("new.csv") + " --top-k 2");
    CHECK(top.rfind("row,class1,p1,class2,p2\n", 0) == 0);
}

TEST_CASE("predict: one row alone gets the line it gets in a batch of 1000") {
    const std::string model = trained_model("alone.npz", "");
    predict_write(predict_path("many.csv"), csv_rows(1000, 1000, false));
    const std::vector<std::string> batch = lines_without_row(predict("--model " + model + " --input " + predict_path("many.csv")));
    REQUIRE(batch.size() == 1000);
    for (std::size_t row : {0, 1, 517, 999}) {
        predict_write(predict_path("one.csv"), csv_rows(1000 + row, 1, false));
        const std::vector<std::string> alone = lines_without_row(predict("--model " + model + " --input " + predict_path("one.csv")));
        REQUIRE(alone.size() == 1);
        CHECK(alone.front() == batch[row]);
    }
}

TEST_CASE("predict: a file of another width is refused naming both counts; batch statistics are noted") {
    const std::string model = trained_model("width.npz", "--bn-statistics batch");
    predict_write(predict_path("narrow.csv"), "1,2,3\n4,5,6\n");
    CHECK(predict("--model " + model + " --input " + predict_path("narrow.csv")) ==
          "ist-predict: note: " + model + ": its batch norms normalise with the statistics of each batch: a row's "
          "prediction depends on the rows scored with it\nist-predict: error: " + predict_path("narrow.csv") +
          ": 3 columns per row, but the model " + model + " takes 6 features (7 columns with the label)\nexit 2");
    CHECK(predict("--model " + model + " --input x.csv --data digits") ==
          "ist-predict: error: --input scores a file's rows: --data, --test-data, --seed and --train-rows choose a "
          "training run's split instead; give one or the other\nexit 2");
}

TEST_CASE("predict: every output path is checked before any work, in every program that writes one") {
    const std::string missing = predict_path("no/such/dir");
    const std::string cannot = ": cannot write " + missing + "/f: directory " + missing + " does not exist\nexit 2";
    for (const char* option : {"--save-model", "--log", "--checkpoint"})
        CHECK(ist_test::run_program(IST_TRAIN_EXE, std::string(option) + " " + missing + "/f") ==
              "ist-train: error: " + std::string(option) + cannot);
    CHECK(ist_test::run_program(IST_TRAIN_EXE, "--save-model " + predict_path("")) ==
          "ist-train: error: --save-model: cannot write " + predict_path("") + ": it is a directory\nexit 2");
    CHECK(ist_test::run_program(IST_LOFT_EXE, "--save-model " + missing + "/f") == "ist-loft: error: --save-model" + cannot);
    CHECK(predict("--model m.npz --out " + missing + "/f") == "ist-predict: error: --out" + cannot);
    CHECK(ist_test::run_program(IST_WORDNET_XML_EXE, "--out " + missing + "/f") ==
          "wordnet-xml: error: --out: cannot write " + missing + "/f.train.txt: directory " + missing + " does not exist\nexit 2");
}
