// ist-load-bench: how fast and how lean ist's loaders are on data of Fashion-MNIST's size, against
// numpy on the same files in the same run. It writes (once, into --dir) the Fashion-MNIST training
// set as an integer CSV (784 pixels 0..255 and the label: 60,000 x 785), as an .npz (float32 x,
// uint32 y, stored, by ist's NpzWriter) and as a pair of .npy files (ist's npy writer), then loads
// each in a fresh child process: this program re-executed (`--child KIND FILES...`), or python3 -c.
// The child times its own load; its peak RSS is wait4's ru_maxrss. The load average is printed
// before and after, since 2 shared cores make every timing depend on it.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/io/npz.hpp>

#include "cli.hpp"

namespace fs = std::filesystem;

namespace {

struct Config {
    std::string dir = "/tmp/ist-load-bench";
    std::string fashion = "/usr/share/datasets/fashion-mnist";
    std::string python = "/usr/bin/python3";
};

Config parse(int argc, char** argv) {
    Config c;
    ist::cli::Options cli("ist-load-bench",
                          "Times ist::load_csv (1 thread and every hardware thread) / load_npz / load_npy and load_npy_rows (a quarter of the rows) against\n"
                          "numpy.loadtxt / numpy.load on Fashion-MNIST's training set, each in a fresh process, with\n"
                          "its peak RSS. The files are written once into --dir.");
    cli.text("--dir", c.dir, "DIR", "where the CSV, .npz and .npy files are written (default /tmp/ist-load-bench)");
    cli.text("--fashion", c.fashion, "DIR", "Fashion-MNIST's IDX files (default /usr/share/datasets/fashion-mnist)");
    cli.text("--python", c.python, "EXE", "the python3 with numpy to compare with (default /usr/bin/python3)");
    cli.parse(argc, argv);
    return c;
}

struct Files {
    std::string csv, npz, x_npy, y_npy;
};

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw ist::DataError(path + ": cannot write");
}

/// Pixels back to the integers 0..255 the IDX file holds, one row per line, label last.
void write_csv(const ist::Dataset& d, const std::string& path) {
    std::string text;
    text.reserve(d.size() * d.feature_count() * 3);
    char cell[16];
    for (std::size_t i = 0; i < d.size(); ++i) {
        for (std::size_t j = 0; j < d.feature_count(); ++j) {
            const auto v = static_cast<int>(std::lround(d.features(i, j) * 255.0f));
            text.append(cell, static_cast<std::size_t>(std::to_chars(cell, cell + sizeof cell, v).ptr - cell));
            text += ',';
        }
        text += std::to_string(d.labels[i]) + '\n';
    }
    write_bytes(path, std::vector<unsigned char>(text.begin(), text.end()));
}

Files prepare(const Config& c) {
    fs::create_directories(c.dir);
    const Files f{c.dir + "/fashion.csv", c.dir + "/fashion.npz", c.dir + "/fashion_x.npy", c.dir + "/fashion_y.npy"};
    if (fs::exists(f.csv) && fs::exists(f.npz) && fs::exists(f.x_npy) && fs::exists(f.y_npy)) return f;
    std::cout << "writing the data files into " << c.dir << " ...\n";
    const ist::Dataset d =
        ist::load_idx(c.fashion + "/train-images-idx3-ubyte.gz", c.fashion + "/train-labels-idx1-ubyte.gz");
    write_csv(d, f.csv);
    const std::vector<std::size_t> shape{d.size(), d.feature_count()};
    ist::NpzWriter npz;
    npz.add("x", d.features.data(), shape);
    npz.add("y", d.labels);
    npz.write_atomically(f.npz);
    write_bytes(f.x_npy, ist::detail::npy::npy_image(d.features.data(), shape));
    write_bytes(f.y_npy, ist::detail::npy::npy_image(d.labels.data(), {d.size()}));
    return f;
}

/// What a child reported: its load time (its only line of output), and from wait4 its CPU time
/// (user + system, start-up included) and peak RSS.
struct Measured {
    std::optional<double> seconds;
    double cpu_seconds = 0;
    double peak_mb = 0;
};

Measured run_child(const std::vector<std::string>& args) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::close(out[0]);
        std::vector<char*> argv;
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    std::string text;
    char buf[256];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    struct rusage usage {};
    ::wait4(pid, &status, 0, &usage);
    Measured m;
    m.peak_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
    const auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    m.cpu_seconds = secs(usage.ru_utime) + secs(usage.ru_stime);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !text.empty()) m.seconds = std::stod(text);
    return m;
}

/// The child side: one load, timed; prints the seconds.
int child(int argc, char** argv) {
    const std::string kind = argv[2];
    const auto start = std::chrono::steady_clock::now();
    std::size_t rows = 0;
    if (kind == "csv") rows = ist::load_csv(argv[3]).size();
    if (kind == "csv-threads") rows = ist::load_csv(argv[3], {}, {.threads = 0}).size();
    if (kind == "npz") rows = ist::load_npz(argv[3]).size();
    if (kind == "npy") rows = ist::load_npy(argv[3], argv[4]).size();
    if (kind == "npy-quarter" || kind == "npy-rows") {
        const std::size_t all = ist::MappedNpy(argv[3]).rows();
        std::vector<std::size_t> pick(kind == "npy-quarter" ? all / 4 : all);
        std::iota(pick.begin(), pick.end(), std::size_t{0});
        rows = ist::load_npy_rows(argv[3], argv[4], pick).size();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (argc < 4 || rows == 0) return 1;
    std::printf("%.6f\n", seconds);
    return 0;
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}

struct Row {
    std::string what;
    Measured ist, numpy;
    double output_mb;
};

/// One table: wall time of the load (timed in the child), CPU time of the whole child (numpy's
/// less python3 + import numpy alone, `numpy_startup`), peak RSS.
void print(const std::vector<Row>& rows, bool have_numpy, double numpy_startup) {
    std::printf("%-34s %7s %8s %6s %7s %9s %6s %9s %7s %8s %7s\n", "load", "ist s", "numpy s", "ratio", "ist cpu",
                "numpy cpu", "ratio", "output MB", "ist MB", "numpy MB", "ist/out");
    const auto num = [](double v) { return std::to_string(v).substr(0, 6); };
    for (const Row& r : rows) {
        const bool both = have_numpy && r.ist.seconds && r.numpy.seconds;
        const double numpy_cpu = r.numpy.cpu_seconds - numpy_startup;
        std::printf("%-34s %7s %8s %6s %7s %9s %6s %9.1f %7.1f %8s %7.2f\n", r.what.c_str(),
                    r.ist.seconds ? num(*r.ist.seconds).c_str() : "-", both ? num(*r.numpy.seconds).c_str() : "-",
                    both ? (num(*r.numpy.seconds / *r.ist.seconds).substr(0, 4) + "x").c_str() : "-",
                    num(r.ist.cpu_seconds).c_str(), both ? num(numpy_cpu).c_str() : "-",
                    both ? (num(numpy_cpu / r.ist.cpu_seconds).substr(0, 4) + "x").c_str() : "-", r.output_mb,
                    r.ist.peak_mb, both ? num(r.numpy.peak_mb).c_str() : "-", r.ist.peak_mb / r.output_mb);
    }
}

int run(const Config& c) {
    const Files f = prepare(c);
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const Measured numpy_alone = run_child({c.python, "-c", "import numpy; print(0)"});
    const bool have_numpy = numpy_alone.seconds.has_value();
    if (!have_numpy) std::cout << "numpy is missing (" << c.python << " -c 'import numpy' failed): ist only\n";
    std::cout << "load average before: " << load_average() << "\n";
    const std::string py = "import sys, time, numpy as np\nt = time.perf_counter()\n";
    const std::string done = "\nprint(time.perf_counter() - t)\n";
    const ist::MappedNpy x(f.x_npy);
    const double matrix_mb = static_cast<double>(x.rows() * (x.cols() + 1) * 4) / (1 << 20);  // features + labels
    const auto numpy = [&](const std::string& body, std::vector<std::string> files) {
        std::vector<std::string> args{c.python, "-c", py + body + done};
        args.insert(args.end(), files.begin(), files.end());
        return have_numpy ? run_child(args) : Measured{};
    };
    std::vector<Row> rows;
    rows.push_back({"CSV (load_csv / np.loadtxt)", run_child({self, "--child", "csv", f.csv}),
                    numpy("a = np.loadtxt(sys.argv[1], delimiter=',', dtype=np.float32)", {f.csv}), matrix_mb});
    // numpy has no threaded loadtxt: the same numpy run is the reference of both CSV rows.
    rows.push_back({"CSV, threads 0 = " + std::to_string(std::thread::hardware_concurrency()),
                    run_child({self, "--child", "csv-threads", f.csv}), rows.back().numpy, matrix_mb});
    rows.push_back({".npz (load_npz / np.load)", run_child({self, "--child", "npz", f.npz}),
                    numpy("z = np.load(sys.argv[1]); x = z['x']; y = z['y']", {f.npz}), matrix_mb});
    rows.push_back({".npy (load_npy / np.load)", run_child({self, "--child", "npy", f.x_npy, f.y_npy}),
                    numpy("x = np.load(sys.argv[1]); y = np.load(sys.argv[2])", {f.x_npy, f.y_npy}), matrix_mb});
    rows.push_back({".npy all rows (load_npy_rows/mmap)", run_child({self, "--child", "npy-rows", f.x_npy, f.y_npy}),
                    numpy("x = np.load(sys.argv[1], mmap_mode='r'); x = np.array(x); y = np.load(sys.argv[2])",
                          {f.x_npy, f.y_npy}),
                    matrix_mb});
    rows.push_back({".npy 1/4 rows (load_npy_rows/mmap)", run_child({self, "--child", "npy-quarter", f.x_npy, f.y_npy}),
                    numpy("x = np.load(sys.argv[1], mmap_mode='r'); x = np.array(x[:len(x) // 4]); "
                          "y = np.load(sys.argv[2])[:len(x)]",
                          {f.x_npy, f.y_npy}),
                    matrix_mb / 4});
    std::cout << "files: CSV " << fs::file_size(f.csv) / (1 << 20) << " MB, .npz " << fs::file_size(f.npz) / (1 << 20)
              << " MB; " << x.rows() << " x " << x.cols() << " float32 + labels = " << matrix_mb << " MB\n";
    print(rows, have_numpy, numpy_alone.cpu_seconds);
    std::cout << "load average after: " << load_average() << "\n"
              << "ratio: numpy / ist (above 1: ist is faster). CPU: the child's user + system time, numpy's less\n"
              << "python3 + import numpy alone (" << numpy_alone.cpu_seconds << " s, " << numpy_alone.peak_mb
              << " MB). MB: the child's peak RSS (ru_maxrss), start-up included.\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::string(argv[1]) == "--child") return child(argc, argv);
    return ist::cli::run_main("ist-load-bench", [&] { return run(parse(argc, argv)); });
}
