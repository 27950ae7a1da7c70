// wordnet-xml: writes WordNet 3.0's reverse-dictionary task (gloss words -> the synset's lemmas) in
// the Extreme Classification Repository's format, for xml-train / ist-train --data xml:TRAIN,TEST.
// See include/ist/data/reverse_dictionary.hpp for what the features and labels are.
//
//   wordnet-xml                          # reads /usr/share/wordnet (Debian's wordnet-base)
//   wordnet-xml --out /tmp/wn --binary
#include <fstream>
#include <iostream>
#include <string>

#include <ist/data/reverse_dictionary.hpp>
#include <ist/data/xml_repository.hpp>

#include "cli.hpp"

namespace {

struct Config {
    std::string wordnet{ist::wordnet::kDefaultDirectory}, out = "wordnet-xml";
    ist::wordnet::ReverseDictionaryOptions task;
};

Config parse(int argc, char** argv) {
    Config c;
    ist::cli::Options cli("wordnet-xml", "Writes WordNet's reverse-dictionary task (gloss words -> lemmas) in the\n"
                                         "Extreme Classification Repository format: OUT.train.txt, OUT.test.txt,\n"
                                         "OUT.features.txt (one word per feature) and OUT.labels.txt (one lemma per label).");
    cli.text("--wordnet", c.wordnet, "DIR", "WordNet's dict directory (default /usr/share/wordnet)");
    cli.text("--out", c.out, "PREFIX", "prefix of the files written (default wordnet-xml)");
    cli.value("--min-count", c.task.min_count, ist::cli::kPositive, "N",
              "keep gloss words seen at least N times in training (default 2)");
    cli.value("--max-words", c.task.max_words, ist::cli::kCount, "N", "keep at most N words (default 0: all)");
    cli.value("--max-labels", c.task.max_labels, ist::cli::kCount, "N",
              "keep the N lemmas of the most synsets and the synsets that have one\n(default 0: every lemma)");
    cli.flag("--binary", c.task.binary, "features are 1 per word present (default: the word's count)");
    cli.parse(argc, argv);
    ist::cli::check_writable("--out", c.out + ".train.txt");  // the four files go to one folder
    return c;
}

void write(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out.flush()) throw ist::DataError(path + ": cannot write");
}

int run(const Config& c) {
    const ist::wordnet::ReverseDictionary task =
        ist::wordnet::build_reverse_dictionary(ist::wordnet::read_synsets(c.wordnet), c.task);
    write(c.out + ".train.txt", ist::format_xml_repository(task.train));
    write(c.out + ".test.txt", ist::format_xml_repository(task.test));
    std::string words, lemmas;
    for (std::size_t j = 2; j < task.words.size(); ++j) words += task.words.word(static_cast<std::uint32_t>(j)) + "\n";
    for (const std::string& l : task.lemmas) lemmas += l + "\n";
    write(c.out + ".features.txt", words);
    write(c.out + ".labels.txt", lemmas);
    const auto& parts = task.synsets_per_part;
    std::cout << "synsets: " << parts[0] << " nouns, " << parts[1] << " verbs, " << parts[2] << " adjectives, "
              << parts[3] << " adverbs\n"
              << "train " << task.train.size() << " rows, test " << task.test.size() << " rows, "
              << task.train.feature_count() << " features, " << task.train.classes << " labels\n"
              << "wrote " << c.out << ".{train,test,features,labels}.txt\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("wordnet-xml", [&] { return run(parse(argc, argv)); });
}
