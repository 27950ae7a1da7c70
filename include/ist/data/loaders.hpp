#pragma once
// Every data loader in one include: CSV, NumPy (.npy/.npz, mapped .npy rows), IDX, and the built-in data sets.
#include "ist/data/builtin.hpp"
#include "ist/data/csv.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/idx.hpp"
#include "ist/data/mapped_npy.hpp"
#include "ist/data/numpy.hpp"
