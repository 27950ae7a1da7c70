// Writes the seed corpora of the harnesses into <dir>/<harness>/: small valid inputs of every
// format (with each harness's leading option bytes), written through ist's own writers where it
// has them (NpzWriter, IstTrainer::save_checkpoint) and zlib otherwise.
//   ist_fuzz_seeds <dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "checkpoint_setup.hpp"
#include "fuzz_common.hpp"

namespace fs = std::filesystem;
using ist_fuzz::Bytes;

namespace {

fs::path root;

void seed(const std::string& harness, const std::string& name, const Bytes& bytes) {
    fs::create_directories(root / harness);
    std::ofstream out(root / harness / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes with_prefix(std::initializer_list<unsigned char> prefix, const Bytes& body) {
    Bytes out(prefix);
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes gzip(const Bytes& b) {
    ist_fuzz::write_file("seed.gz", b, true);
    return file_bytes(ist_fuzz::scratch_dir() + "/seed.gz");
}

/// Raw deflate, as zip method 8 stores it.
Bytes deflate_raw(const Bytes& in) {
    z_stream s{};
    deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    Bytes out(deflateBound(&s, in.size()));
    s.next_in = const_cast<unsigned char*>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    deflate(&s, Z_FINISH);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

/// NpzWriter's stored archive with every member re-packed as deflate (np.savez_compressed's layout).
Bytes deflated_copy(const Bytes& stored) {
    Bytes out, central;
    const auto le = [&](std::size_t at, int n) {
        std::uint64_t v = 0;
        for (int i = n; i-- > 0;) v = (v << 8) | stored[at + static_cast<std::size_t>(i)];
        return v;
    };
    const auto put = [](Bytes& b, std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
    };
    std::size_t eocd = stored.size() - 22;
    std::size_t p = le(eocd + 16, 4);
    const std::size_t entries = le(eocd + 10, 2);
    for (std::size_t k = 0; k < entries; ++k) {
        const std::size_t name_len = le(p + 28, 2), local = le(p + 42, 4), size = le(p + 20, 4);
        const std::uint32_t crc = static_cast<std::uint32_t>(le(p + 16, 4));
        const std::string name(stored.begin() + static_cast<long>(p + 46), stored.begin() + static_cast<long>(p + 46 + name_len));
        const std::size_t start = local + 30 + le(local + 26, 2) + le(local + 28, 2);
        const Bytes body = deflate_raw(Bytes(stored.begin() + static_cast<long>(start),
                                             stored.begin() + static_cast<long>(start + size)));
        const std::size_t offset = out.size();
        for (Bytes* b : {&out, &central}) {
            const bool c = b == &central;
            put(*b, c ? 0x02014b50 : 0x04034b50, 4);
            if (c) put(*b, 20, 2);
            put(*b, 20, 2), put(*b, 0, 2), put(*b, 8, 2), put(*b, 0, 2), put(*b, 0x21, 2);
            put(*b, crc, 4), put(*b, body.size(), 4), put(*b, size, 4), put(*b, name.size(), 2), put(*b, 0, 2);
            if (c) put(*b, 0, 2), put(*b, 0, 2), put(*b, 0, 2), put(*b, 0, 4), put(*b, offset, 4);
            b->insert(b->end(), name.begin(), name.end());
        }
        out.insert(out.end(), body.begin(), body.end());
        p += 46 + name_len + le(p + 30, 2) + le(p + 32, 2);
    }
    const std::size_t cd = out.size();
    out.insert(out.end(), central.begin(), central.end());
    put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2), put(out, entries, 2), put(out, entries, 2);
    put(out, central.size(), 4), put(out, cd, 4), put(out, 0, 2);
    return out;
}

Bytes npz_of(const std::function<void(ist::NpzWriter&)>& fill) {
    ist::NpzWriter w;
    fill(w);
    const std::string path = ist_fuzz::scratch_dir() + "/seed.npz";
    w.write_atomically(path);
    return file_bytes(path);
}

Bytes npy_image(const std::vector<float>& v, std::vector<std::size_t> shape) {
    return ist::detail::npy::npy_image(v.data(), shape);
}

void put_be32(Bytes& b, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: ist_fuzz_seeds <dir>\n";
        return 2;
    }
    root = argv[1];
    fs::create_directories(root);

    // CSV: option bytes (0 = no header, ',', plain; 1 = last column label, inferred classes).
    seed("csv", "plain.csv", with_prefix({0, 0}, text("0.5,1,2\n-1.25,3e2,0\n+4,0.0,1\n")));
    seed("csv", "header_semicolon.csv", with_prefix({1 | 2, 2 | 8}, text("a;label;b\r\n1;0;2\r\n\r\n3.5;1;-4\n")));
    seed("csv", "gzip.csv", with_prefix({8, 0}, text("1,2,3,1\n4,5,6,0\n")));

    // .npy: fuzzed features (labels fixed, 3 rows) and fuzzed labels (features fixed, 3 x 2).
    const std::vector<float> x{0.5f, -1.0f, 2.0f, 0.0f, 3.25f, -7.5f};
    seed("npy", "features_f4.npy", with_prefix({0}, npy_image(x, {3, 2})));
    seed("npy", "features_3d.npy", with_prefix({2}, npy_image(x, {3, 1, 2})));
    const std::vector<std::uint32_t> y{2, 0, 1};
    seed("npy", "labels_u4.npy", with_prefix({1 | 4}, ist::detail::npy::npy_image(y.data(), {3})));
    const std::vector<std::uint64_t> y64{2, 0, 1};
    seed("npy", "labels_u8.npy", with_prefix({1}, ist::detail::npy::npy_image(y64.data(), {3})));

    // .npz: stored (NpzWriter) and deflated copies; byte 0 = 1 recomputes CRCs after mutation.
    const Bytes npz = npz_of([&](ist::NpzWriter& w) {
        w.add("x", x.data(), {3, 2});
        w.add("y", y);
    });
    seed("npz", "stored.npz", with_prefix({1}, npz));
    seed("npz", "deflated.npz", with_prefix({1}, deflated_copy(npz)));
    seed("npz", "stored_crc_checked.npz", with_prefix({0}, npz));

    // IDX: 2 images of 2 x 3 pixels and their labels; bytes 1-2 = where the image file ends.
    Bytes images, labels;
    put_be32(images, 0x803), put_be32(images, 2), put_be32(images, 2), put_be32(images, 3);
    for (unsigned char px : {0, 255, 17, 3, 90, 128, 1, 2, 3, 4, 5, 6}) images.push_back(px);
    put_be32(labels, 0x801), put_be32(labels, 2);
    labels.push_back(7), labels.push_back(0);
    const auto idx = [&](unsigned char flags, const Bytes& a, const Bytes& b) {
        Bytes out{flags, static_cast<unsigned char>(a.size() & 0xFF), static_cast<unsigned char>(a.size() >> 8)};
        out.insert(out.end(), a.begin(), a.end());
        out.insert(out.end(), b.begin(), b.end());
        return out;
    };
    seed("idx", "plain.idx", idx(0, images, labels));
    // Gzipped by the harness (flags 1 | 2), and already gzipped in the input (flags 0).
    seed("idx", "gz_by_harness.idx", idx(3, images, labels));
    seed("idx", "gz_in_input.idx", idx(0, gzip(images), gzip(labels)));

    // gzip layer: plain bytes and a real gzip stream.
    seed("gzip", "plain", text("not compressed\n"));
    seed("gzip", "stream.gz", gzip(text("hello, gzip layer\n0,1,2\n")));

    // Checkpoint: a real one from the harness's model and options after 2 rounds.
    ist::Network net = ist_fuzz::checkpoint_model();
    auto trainer = ist_fuzz::checkpoint_trainer(net);
    trainer.train(ist_fuzz::checkpoint_data(1), ist_fuzz::checkpoint_data(2));
    const std::string ckpt = ist_fuzz::scratch_dir() + "/seed_checkpoint.npz";
    trainer.save_checkpoint(ckpt);
    const Bytes checkpoint = file_bytes(ckpt);
    // The harness only explores past the reader's checks if the seed itself is accepted.
    ist::Network loaded = ist_fuzz::checkpoint_model();
    ist::RunState state = ist_fuzz::checkpoint_state(loaded);
    ist::read_checkpoint(ist::NpzArchive(checkpoint, "seed checkpoint"), loaded, state, 2);
    seed("checkpoint", "checkpoint.npz", with_prefix({1}, checkpoint));
    seed("checkpoint", "checkpoint_crc_checked.npz", with_prefix({0}, checkpoint));
    // Edge lists: 0-based with a comment, 1-based symmetric, a fixed node count (option byte first).
    seed("edge_list", "plain.txt", with_prefix({0}, text("# a path and a triangle\n0 1\n1 2\n2 0\n3 4\n")));
    seed("edge_list", "one_based_symmetric.txt", with_prefix({1 | 2}, text("1 2\n2 1\n2\t3\r\n3 2\n")));
    seed("edge_list", "fixed_nodes.txt", with_prefix({4}, text("0 5\n5 63\n\n")));

    // CSR graph: a 4-node path 0-1-2-3 as scipy would save it (stored and deflated members).
    const Bytes csr = npz_of([&](ist::NpzWriter& w) {
        w.add("indptr", std::vector<std::uint64_t>{0, 1, 3, 5, 6});
        w.add("indices", std::vector<std::uint64_t>{1, 0, 2, 1, 3, 2});
    });
    seed("csr", "path.npz", with_prefix({1}, csr));
    seed("csr", "path_deflated.npz", with_prefix({1}, deflated_copy(csr)));
    std::cout << "seed corpora written to " << root.string() << "\n";
    return 0;
}
