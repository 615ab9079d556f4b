// A plain Verilator testbench: replays a recording that the Rust bridge made
// (sim::replay, Sim::record_to) on the same verilated model, checks the
// outputs against it, and times the replay loop.
//
//   replay RECORDING [--repeat N] [--unchecked]
//
// Each repetition constructs a fresh model (as the recording started on one),
// then for every record stores the recorded input values straight into the
// model's ports, runs the recorded eval or clock edges (clock low, eval, clock
// high, eval per edge, as the bridge's step does), and compares every output
// port with the recorded value. --unchecked leaves the per-record comparison
// out of the timed loop and compares only the final outputs. Only the loop is
// timed (std::chrono::steady_clock, and the process's CPU time); construction
// and file reading are not. Prints one JSON line: cycles, records, repeats,
// checked, seconds and cpu_seconds (one per repetition), median_s,
// cycles_per_s (median), best_cycles_per_s, match.
// A mismatch prints the record, the port and both values on stderr and exits 1.
//
// The port layout comes from tandem_replay_ports.h, which sim generates for
// the model when it builds this testbench (PlainTestbench::build), and which
// must agree with the recording's layout text.
#include "tandem_replay_ports.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kEval = 0xFFFFFFFEu;
constexpr uint32_t kEnd = 0xFFFFFFFFu;

[[noreturn]] void fail(const std::string& msg, int code = 2) {
    std::fprintf(stderr, "replay: %s\n", msg.c_str());
    std::exit(code);
}

bool bit(const uint32_t* mask, unsigned k) { return (mask[k / 32] >> (k % 32)) & 1u; }

// The recording split, outside the timed loop, into what the loop reads.
struct Streams {
    std::vector<uint32_t> in;   // per record: op, input mask, the listed inputs' words
    std::vector<uint32_t> out;  // per record: output mask, the listed outputs' words
    std::vector<uint32_t> final_out;  // every output after the last record
    uint64_t records = 0;
    uint64_t cycles = 0;
};

Streams load(const char* path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) fail(std::string("cannot open ") + path);
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (bytes.size() < 12 || std::memcmp(bytes.data(), "TNDMREC1", 8) != 0)
        fail(std::string(path) + " is not a tandem recording");
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    const size_t start = (12 + static_cast<size_t>(len) + 3) / 4 * 4;
    if (bytes.size() < start || (bytes.size() - start) % 4 != 0) fail("truncated header");
    const std::string layout(bytes.data() + 12, len);
    if (layout != tandem_layout)
        fail("the recording was made on another design; its layout:\n" + layout +
             "this testbench's:\n" + tandem_layout);
    std::vector<uint32_t> w((bytes.size() - start) / 4);
    std::memcpy(w.data(), bytes.data() + start, w.size() * 4);

    Streams s;
    s.final_out.assign(TANDEM_OUT_TOTAL_WORDS + 1, 0);
    size_t at = 0;
    auto need = [&](size_t n) {
        if (at + n > w.size()) fail("truncated recording (record " + std::to_string(s.records) + ")");
    };
    for (;;) {
        need(1);
        const uint32_t op = w[at++];
        if (op == kEnd) {
            need(5);
            const uint64_t records = w[at + 1] | static_cast<uint64_t>(w[at + 2]) << 32;
            const uint64_t cycles = w[at + 3] | static_cast<uint64_t>(w[at + 4]) << 32;
            if (records != s.records || cycles != s.cycles) fail("end marker disagrees with the records");
            break;
        }
        s.in.push_back(op);
        need(TANDEM_IN_MASK_WORDS);
        const uint32_t* mask = &w[at];
        s.in.insert(s.in.end(), mask, mask + TANDEM_IN_MASK_WORDS);
        at += TANDEM_IN_MASK_WORDS;
        for (unsigned k = 0; k < TANDEM_INPUTS; ++k) {
            if (!bit(mask, k)) continue;
            need(tandem_in_words[k]);
            s.in.insert(s.in.end(), &w[at], &w[at] + tandem_in_words[k]);
            at += tandem_in_words[k];
        }
        need(TANDEM_OUT_MASK_WORDS);
        mask = &w[at];
        s.out.insert(s.out.end(), mask, mask + TANDEM_OUT_MASK_WORDS);
        at += TANDEM_OUT_MASK_WORDS;
        for (unsigned k = 0; k < TANDEM_OUTPUTS; ++k) {
            if (!bit(mask, k)) continue;
            need(tandem_out_words[k]);
            s.out.insert(s.out.end(), &w[at], &w[at] + tandem_out_words[k]);
            std::memcpy(&s.final_out[tandem_out_offset[k]], &w[at], tandem_out_words[k] * 4);
            at += tandem_out_words[k];
        }
        if (op != kEval) s.cycles += op;
        ++s.records;
    }
    return s;
}

std::string hex(const uint32_t* words, unsigned n) {
    std::string text = "0x";
    char buf[16];
    for (unsigned i = n; i-- > 0;) {
        std::snprintf(buf, sizeof buf, "%08" PRIx32 "%s", words[i], i ? "_" : "");
        text += buf;
    }
    return text;
}

[[noreturn]] void mismatch(TandemTop* top, const uint32_t* expected, int port, uint64_t record,
                           uint64_t cycles) {
    std::vector<uint32_t> actual(TANDEM_OUT_TOTAL_WORDS + 1, 0);
    tandem_read_outputs(top, actual.data());
    const unsigned at = tandem_out_offset[port];
    const unsigned n = tandem_out_words[port];
    fail("mismatch at record " + std::to_string(record) + " (after " + std::to_string(cycles) +
             " cycles): output `" + tandem_out_names[port] + "` is " + hex(&actual[at], n) +
             ", recorded " + hex(&expected[at], n),
         1);
}

// CPU time of the process (all its threads), in seconds.
double cpu_now() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Timing {
    double wall;
    double cpu;
};

// One replay on a fresh model; returns the wall and CPU seconds the loop took.
Timing replay(const Streams& s, bool checked) {
    VerilatedContext* ctx = new VerilatedContext;
    TandemTop* top = new TandemTop(ctx, "TOP");
    std::vector<uint32_t> expected(TANDEM_OUT_TOTAL_WORDS + 1, 0);
    const uint32_t* ip = s.in.data();
    const uint32_t* op_out = s.out.data();
    uint64_t cycles = 0;

    const double c0 = cpu_now();
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t r = 0; r < s.records; ++r) {
        const uint32_t op = *ip++;
        const uint32_t* mask = ip;
        ip = tandem_apply(top, mask, ip + TANDEM_IN_MASK_WORDS);
        if (op == kEval) {
            top->eval();
            ctx->timeInc(1);
        } else {
            for (uint32_t n = 0; n < op; ++n) {
                tandem_set_clock(top, 0);
                top->eval();
                ctx->timeInc(1);
                tandem_set_clock(top, 1);
                top->eval();
                ctx->timeInc(1);
            }
            cycles += op;
        }
        if (checked) {
            const uint32_t* omask = op_out;
            op_out += TANDEM_OUT_MASK_WORDS;
            for (unsigned k = 0; k < TANDEM_OUTPUTS; ++k) {
                if (!bit(omask, k)) continue;
                std::memcpy(&expected[tandem_out_offset[k]], op_out, tandem_out_words[k] * 4);
                op_out += tandem_out_words[k];
            }
            const int bad = tandem_compare(top, expected.data());
            if (bad >= 0) mismatch(top, expected.data(), bad, r, cycles);
        }
    }
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = cpu_now();

    if (!checked) {
        const int bad = tandem_compare(top, s.final_out.data());
        if (bad >= 0) mismatch(top, s.final_out.data(), bad, s.records - 1, cycles);
    }
    top->final();
    delete top;
    delete ctx;
    return Timing{std::chrono::duration<double>(t1 - t0).count(), c1 - c0};
}

}  // namespace

int main(int argc, char** argv) {
    const char* path = nullptr;
    long repeats = 1;
    bool checked = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--repeat" && i + 1 < argc) {
            repeats = std::strtol(argv[++i], nullptr, 10);
        } else if (arg == "--unchecked") {
            checked = false;
        } else if (!path && arg[0] != '-') {
            path = argv[i];
        } else {
            fail("usage: replay RECORDING [--repeat N] [--unchecked]");
        }
    }
    if (!path || repeats < 1) fail("usage: replay RECORDING [--repeat N] [--unchecked]");
    const Streams s = load(path);
    std::vector<double> seconds, cpu;
    for (long i = 0; i < repeats; ++i) {
        const Timing t = replay(s, checked);
        seconds.push_back(t.wall);
        cpu.push_back(t.cpu);
    }
    std::vector<double> sorted = seconds;
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    auto join = [](const std::vector<double>& v) {
        std::string list;
        for (size_t i = 0; i < v.size(); ++i) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%s%.9f", i ? "," : "", v[i]);
            list += buf;
        }
        return list;
    };
    std::printf(
        "{\"cycles\":%" PRIu64 ",\"records\":%" PRIu64 ",\"repeats\":%ld,\"checked\":%s,"
        "\"seconds\":[%s],\"cpu_seconds\":[%s],\"median_s\":%.9f,\"cycles_per_s\":%.1f,"
        "\"best_cycles_per_s\":%.1f,\"match\":true}\n",
        s.cycles, s.records, repeats, checked ? "true" : "false", join(seconds).c_str(),
        join(cpu).c_str(), median, s.cycles / median, s.cycles / sorted[0]);
    return 0;
}
