# Accuracy vs time from transformer-train's --curve CSVs (docs/transformers.md): one row of panels
# per CSV (e.g. S = 2 and S = 4), one panel per clock: the training seconds measured here, then
# each link of the network model (the CSV's seconds_<link> columns, bench/network_model.hpp).
# Every (method, seed) is one line, a method's seeds in one colour. `make transformer-plot` runs:
#   gnuplot -e "files='s2.csv s4.csv'; labels='S=2 S=4'; out='plot.png'" bench/plot_transformer.gp
if (!exists("files")) files = "docs/bench/transformer-s2.csv docs/bench/transformer-s4.csv"
if (!exists("labels")) labels = "S=2 S=4"
if (!exists("out")) out = "docs/bench/transformer-accuracy.png"
methods = "heads ffn both blocks local-sgd data-parallel single"
array names[7] = ["IST, heads", "IST, FFN", "IST, heads + FFN", "IST, blocks", "local SGD", "data parallel", "one worker"]
array clocks[3] = ["measured here", "1 Gbit/s network model", "10 Gbit/s network model"]

set datafile separator ","
set terminal pngcairo size 1500, 480 * words(files) font ",10"
set output out
set key bottom right font ",9"
set grid
set ylabel "test accuracy"
# One accuracy scale for every panel, so rows and columns compare at a glance.
lowest = 1.0; highest = 0.0
do for [f = 1:words(files)] {
    stats word(files, f) using 5 nooutput
    lowest = STATS_min < lowest ? STATS_min : lowest
    highest = STATS_max > highest ? STATS_max : highest
}
set multiplot layout words(files), 3
do for [f = 1:words(files)] {
    file = word(files, f)
    stats file using 2 nooutput   # the seeds run: seed .. seed + N - 1
    first_seed = int(STATS_min)
    last_seed = int(STATS_max)
    present = ""                  # the methods this CSV holds, so the key lists only those
    do for [m = 1:words(methods)] {
        stats file using (strcol(1) eq word(methods, m) ? 1 : 0) nooutput
        if (STATS_sum > 0) { present = present . " " . m }
    }
    do for [c = 1:3] {
        set title sprintf("%s, %s", word(labels, f), clocks[c]) noenhanced
        set xlabel (c == 1 ? "training seconds here" : "seconds under the network model") noenhanced
        column_of_clock = (c == 1 ? 4 : 5 + c)   # seconds, then seconds_<link> after total_bytes
        plot [] [lowest - 0.01 : highest + 0.01] for [i = 1:words(present)] for [s = first_seed:last_seed] file \
             using (column(column_of_clock)):((strcol(1) eq word(methods, int(word(present, i))) && column(2) == s) ? column(5) : NaN) \
             with linespoints lc int(word(present, i)) pt 7 ps 0.6 \
             title (s == first_seed ? names[int(word(present, i))] : "") noenhanced
    }
}
unset multiplot
