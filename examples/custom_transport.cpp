// Your own transport: implement a Wire (send and receive bytes between ranks), and the library's
// WireTransport runs the round around it (coding, byte counts, the ordered mean, failures). Here
// the ranks are threads of one process and every message is copied into its receiver's mailbox;
// the run ends bit for bit as ThreadsTransport's.
#include <condition_variable>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include <ist/exchange/wire_transport.hpp>
#include <ist/ist.hpp>

/// Ranks 0..S-1 as threads; a mailbox per (receiver, sender) pair keeps each pair's order.
class MailboxWire {
public:
    struct Post {
        explicit Post(std::size_t ranks) : ranks(ranks), boxes(ranks * ranks) {}
        std::size_t ranks;
        std::vector<std::deque<std::vector<char>>> boxes;
        std::mutex mutex;
        std::condition_variable arrived;
    };
    MailboxWire(std::shared_ptr<Post> post, std::size_t rank) : post_(std::move(post)), rank_(rank) {}

    std::size_t rank() const { return rank_; }
    std::size_t size() const { return post_->ranks; }
    void send(std::size_t peer, std::span<const char> bytes) {
        std::lock_guard lock(post_->mutex);
        post_->boxes[peer * size() + rank_].emplace_back(bytes.begin(), bytes.end());
        post_->arrived.notify_all();
    }
    std::vector<char> receive(std::size_t peer) {
        std::unique_lock lock(post_->mutex);
        auto& box = post_->boxes[rank_ * size() + peer];
        post_->arrived.wait(lock, [&] { return !box.empty(); });
        std::vector<char> message = std::move(box.front());
        box.pop_front();
        return message;
    }

private:
    std::shared_ptr<Post> post_;
    std::size_t rank_;
};
static_assert(ist::Wire<MailboxWire>);

#ifndef IST_CUSTOM_TRANSPORT_NO_MAIN
int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 1);
    ist::standardize(train, test);
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 20, .batch_size = 32};
    const ist::MlpSpec spec{64, {128}, 10};

    ist::Network reference = ist::make_mlp(spec);  // the same run on ThreadsTransport
    ist::IstTrainer(reference, options).train(train, test);

    auto post = std::make_shared<MailboxWire::Post>(options.workers);
    bool same = false;
    {
        std::vector<std::jthread> ranks;  // each rank trains its own replica, as an MPI process would
        for (std::size_t r = 0; r < options.workers; ++r) ranks.emplace_back([&, r] {
            ist::Network net = ist::make_mlp(spec);
            ist::IstTrainer<ist::Network, ist::NeuronPartition, ist::Sgd, ist::HolderAverage,
                            ist::WireTransport<MailboxWire>>
                trainer(net, options, ist::NeuronPartition(), ist::Sgd(), ist::HolderAverage(),
                        ist::WireTransport(MailboxWire(post, r)));
            const auto result = trainer.train(train, test);
            if (r != 0) return;
            same = ist::weights_checksum(net) == ist::weights_checksum(reference);
            std::cout << "mailbox transport: accuracy " << result.final_test->accuracy << ", "
                      << result.history.back().total_bytes << " bytes, weights " << ist::weights_checksum_hex(net)
                      << (same ? " (as ThreadsTransport's)\n" : " (DIFFER from ThreadsTransport's)\n");
        });
    }
    return same ? 0 : 1;
}
#endif
