#pragma once
// ist-bench's `--preset reference`: the training settings of the reference IST code (Yuan et al.
// 2019; BinhangYuan/IST_Release, the 2-layer and 3-layer Google Speech scripts), shared by
// `ist-bench compare` and `ist-bench talk`. Plain SGD at lr 0.01, batch 128, a repartition every 20
// steps, every worker shuffling the whole training set. Widths, S and the run length stay options.
#include <vector>

#include "preset.hpp"

namespace ist_bench {

inline const std::vector<ist::cli::Preset> kReferencePresets{
    {"reference",
     {"--lr", "0.01", "--batch", "128", "--local-steps", "20", "--whole-set"},
     "BinhangYuan/IST_Release, distributed_{2,3}layer_subnet_*.py"},
};

}  // namespace ist_bench
