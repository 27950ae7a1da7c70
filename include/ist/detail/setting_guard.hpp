#pragma once
// The one RAII shape of the GEMM switches (the process's backend and bf16 kernel, a thread's
// precision): set a value for a scope, give the previous one back on exit.
#include <atomic>
#include <type_traits>

namespace ist::detail {

template <class Slot>
struct SettingValue {
    using type = Slot;
};
template <class T>
struct SettingValue<std::atomic<T>> {
    using type = T;
};

/// Sets `slot` (a std::atomic<T> the whole process reads, or a plain T such as a thread_local) to
/// a value for the guard's lifetime and restores the value it had on exit. Switch a process-wide
/// slot while no other thread computes (benchmarks and tests).
template <class Slot>
class SettingGuard {
public:
    using Value = typename SettingValue<Slot>::type;

    SettingGuard(Slot& slot, Value value) : slot_(slot), previous_(read(slot)) { write(slot_, value); }
    ~SettingGuard() { write(slot_, previous_); }
    SettingGuard(const SettingGuard&) = delete;
    SettingGuard& operator=(const SettingGuard&) = delete;

private:
    static constexpr bool kAtomic = !std::is_same_v<Slot, Value>;

    static Value read(const Slot& slot) {
        if constexpr (kAtomic) return slot.load(std::memory_order_relaxed);
        else return slot;
    }
    static void write(Slot& slot, Value value) {
        if constexpr (kAtomic) slot.store(value, std::memory_order_relaxed);
        else slot = value;
    }

    Slot& slot_;
    Value previous_;
};

}  // namespace ist::detail
