// primsel-bench as a user runs it: argument errors, --list, the JSON report (validated against the shared schema
// and cross-checked with the table by check_report.py), raw input/output files, and the tuning cache flags.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "../io/onnx_model_bytes.hpp"
#include "primsel/predict/latency_predictor.hpp"

namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr
};

Result bench(const std::string& args) {
  const std::string cmd = std::string(PRIMSEL_BENCH_EXE) + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("primsel_bench_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::vector<char> bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

/// Validates the JSON report against the shared schema and the table (check_report.py), then runs `python` (a
/// Python expression-statement sequence reading the report as `r`, exiting non-zero with a reason) on it. Returns the
/// exit status and the log; without ../shared/report.schema.json beside the checkout the check is skipped (status 0).
std::pair<int, std::string> check_report(const std::string& json, const std::string& table, const std::string& output,
                                         const std::string& python) {
  const std::string schema = std::string(PRIMSEL_SOURCE_DIR) + "/../shared/report.schema.json";
  if (!std::filesystem::exists(schema)) {
    WARN("no ../shared/report.schema.json beside the checkout: schema check skipped");
    return {0, {}};
  }
  std::ofstream(table) << output;
  const std::string check = "/usr/bin/python3 " + std::string(PRIMSEL_SOURCE_DIR) + "/tests/bench/check_report.py " +
                            json + " " + schema + " " + table + " > " + table + ".check 2>&1 && /usr/bin/python3 -c \"import json, sys; "
                            "r = json.load(open(sys.argv[1])); " + python + "\" " + json + " >> " + table + ".check 2>&1";
  const int status = std::system(check.c_str());
  const std::vector<char> log = bytes(table + ".check");
  return {status, std::string(log.begin(), log.end())};
}

}  // namespace

TEST_CASE("bad arguments get one error line and exit status 2") {
  for (const char* args : {"", "--model", "--model lenet5 --threads 0", "--model lenet5 --threads many",
                           "--model lenet5 --runs -1", "--model lenet5 --searcher annealing", "--model lenet5 --bogus",
                           "--model lenet5 --cache x --no-cache"}) {
    INFO(args);
    const Result r = bench(args);
    CHECK(r.status == 2);
    CHECK(r.output.rfind("primsel-bench: error: ", 0) == 0);
    CHECK(r.output.find("usage:") != std::string::npos);
  }
}

TEST_CASE("runtime errors: unknown model, unreadable or wrongly sized input, unknown fixed primitive") {
  const Result unknown = bench("--model no_such_net --no-cache");
  CHECK(unknown.status == 1);
  CHECK(unknown.output.find("neither a zoo model") != std::string::npos);
  const Result missing = bench("--model lenet5 --no-cache --input /nonexistent/in.bin");
  CHECK(missing.status == 1);
  CHECK(missing.output.find("cannot open input") != std::string::npos);
  const std::string small = temp("small.bin");
  std::ofstream(small, std::ios::binary) << "abcd";
  const Result wrong = bench("--model lenet5 --no-cache --quiet --input " + small);
  CHECK(wrong.status == 1);
  CHECK(wrong.output.find("needs 3136") != std::string::npos);  // 1x1x28x28 floats
  const Result fixed = bench("--model lenet5 --no-cache --quiet --runs 1 --searcher fixed:magic");
  CHECK(fixed.status == 1);
  CHECK(fixed.output.find("names no compiled-in primitive") != std::string::npos);
  std::filesystem::remove(small);
}

TEST_CASE("--list names the zoo, the primitives and the searchers") {
  const Result r = bench("--list");
  CHECK(r.status == 0);
  CHECK(r.output.find("resnet18") != std::string::npos);
  CHECK(r.output.find("winograd_f43") != std::string::npos);
  CHECK(r.output.find("qlearning") != std::string::npos);
}

TEST_CASE("the JSON report validates against the schema and agrees with the table, for every searcher") {
  const std::string schema = std::string(PRIMSEL_SOURCE_DIR) + "/../shared/report.schema.json";
  if (!std::filesystem::exists(schema)) {
    WARN("no ../shared/report.schema.json beside the checkout: schema check skipped");
    return;
  }
  for (const char* searcher : {"qlearning", "exact", "greedy", "random", "fixed:direct_nchwc"}) {
    INFO(searcher);
    const std::string json = temp("report.json"), table = temp("table.txt");
    const Result r = bench(std::string("--model lenet5 --no-cache --quiet --runs 3 --threads 1 --searcher ") + searcher +
                           " --json " + json);
    REQUIRE(r.status == 0);
    std::ofstream(table) << r.output;
    const Result check = {std::system(("/usr/bin/python3 " + std::string(PRIMSEL_SOURCE_DIR) +
                                       "/tests/bench/check_report.py " + json + " " + schema + " " + table + " > " +
                                       table + ".check 2>&1")
                                          .c_str()),
                          ""};
    const std::vector<char> log = bytes(table + ".check");
    INFO(std::string(log.begin(), log.end()));
    CHECK(check.status == 0);
    for (const std::string& f : {json, table, table + ".check"}) std::filesystem::remove(f);
  }
}

TEST_CASE("--throughput compares intra-op, replicas and the planned pipeline, in the table and the JSON report") {
  const std::string json = temp("throughput.json"), table = temp("throughput.txt");
  const Result r = bench("--model lenet5 --no-cache --quiet --runs 8 --threads 1 --throughput --simulate 4+4:2.5 --json " + json);
  INFO(r.output);
  REQUIRE(r.status == 0);
  for (const char* row : {"(a) intra-op, ", "(b) ", "(c) planner's choice", "plan (c):", "  stage 0: ",
                          "simulated 4 big + 4 LITTLE (2.50x slower)", "simulated plan (c):"})
    CHECK(r.output.find(row) != std::string::npos);
  // The schema welcomes extra fields: the report must still validate, with a throughput object per mode.
  const auto [status, log] = check_report(json, table, r.output,
                                          "t = r['throughput']; m = {x['mode'] for x in t['modes']}; "
                                          "sys.exit(0 if {'intra_op', 'replicas', 'planned'} <= m and t['simulation']['big'] == 4 "
                                          "and all(x['images_per_s'] > 0 and x['plan'] for x in t['modes']) else str(t))");
  INFO(log);
  CHECK(status == 0);
  CHECK(bench("--model lenet5 --simulate 4+4:2.5").status == 2);               // needs --throughput
  CHECK(bench("--model lenet5 --throughput --simulate 4+4").status == 2);      // no slowdown
  CHECK(bench("--model lenet5 --throughput --simulate 4+4:0.5").status == 2);  // LITTLE faster than big
  for (const std::string& f : {json, table, table + ".check"}) std::filesystem::remove(f);
}

TEST_CASE("--input and --output are raw float32: the same input gives the same output") {
  const std::string in = temp("in.bin"), out1 = temp("out1.bin"), out2 = temp("out2.bin");
  {
    std::ofstream f(in, std::ios::binary);
    for (int i = 0; i < 28 * 28; ++i) {
      const float v = static_cast<float>(i % 17) / 17.0f;
      f.write(reinterpret_cast<const char*>(&v), sizeof v);
    }
  }
  // The second run takes the first's binding from the cache: a binding chosen afresh depends on timings, and
  // another primitive (FFT, im2col) rounds differently in the last bits (seen once in CI, under load).
  const std::string cache = temp("io.cache");
  std::filesystem::remove(cache);
  REQUIRE(bench("--model lenet5 --cache " + cache + " --quiet --runs 1 --input " + in + " --output " + out1).status == 0);
  REQUIRE(bench("--model lenet5 --cache " + cache + " --quiet --runs 1 --input " + in + " --output " + out2).status == 0);
  const auto a = bytes(out1), b = bytes(out2);
  CHECK(a.size() == 10 * sizeof(float));
  CHECK(a == b);  // same input, same binding: the same bytes
  for (const std::string& f : {in, out1, out2, cache}) std::filesystem::remove(f);
}

TEST_CASE("--cache: the second run measures and searches nothing") {
  const std::string cache = temp("bench.cache");
  std::filesystem::remove(cache);
  const Result first = bench("--model lenet5 --quiet --runs 1 --cache " + cache);
  REQUIRE(first.status == 0);
  CHECK(first.output.find("(from the cache)") == std::string::npos);
  const Result second = bench("--model lenet5 --quiet --runs 1 --cache " + cache);
  REQUIRE(second.status == 0);
  CHECK(second.output.find("measured in") != std::string::npos);
  CHECK(second.output.find("(from the cache), searched in") != std::string::npos);
  std::filesystem::remove(cache);
}

TEST_CASE("--plot writes a well-formed SVG with the trace, the optimum and the per-layer series") {
  const std::string svg = temp("plot.svg"), log = temp("plot.log");
  const Result r = bench("--model lenet5 --no-cache --quiet --runs 1 --compare-searchers --plot " + svg);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("compare: qlearning") != std::string::npos);
  const std::string check =
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); "
      "ids = {g.get('id') for g in r.iter('{http://www.w3.org/2000/svg}g')}; "
      "need = {'trace-qlearning', 'trace-random', 'optimum', 'layers'}; "
      "sys.exit(0 if need <= ids else 'missing ' + str(need - ids))\" " + svg + " > " + log + " 2>&1";
  const int status = std::system(check.c_str());
  const std::vector<char> out = bytes(log);
  INFO(std::string(out.begin(), out.end()));
  CHECK(status == 0);
  std::filesystem::remove(svg);
  std::filesystem::remove(log);
}

TEST_CASE("an ONNX file runs like a zoo model: --input/--output reproduce the exporter's output") {
  const std::string fixtures = std::string(PRIMSEL_SOURCE_DIR) + "/tests/io/onnx_fixtures/";
  const std::string out = temp("onnx_out.bin");
  const Result r = bench("--model " + fixtures + "torch_resnet_small_op13_dynbatch.onnx --no-cache --runs 2 --threads 1 --input " + fixtures +
                         "torch_resnet_small_op13_dynbatch.in.bin --output " + out);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("/layer1/layer1.0/conv1/Conv") != std::string::npos);  // the file's node names
  const std::vector<char> got = bytes(out), want = bytes(fixtures + "torch_resnet_small_op13_dynbatch.out.bin");
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); i += sizeof(float)) {
    float a, b;
    std::memcpy(&a, &got[i], sizeof a);
    std::memcpy(&b, &want[i], sizeof b);
    CHECK(std::abs(a - b) <= 1e-3f * std::max(1.0f, std::abs(b)));
  }
  // The dynamic batch is chosen with --input-shape; a fixed dim cannot be changed.
  const Result b2 = bench("--model " + fixtures + "torch_resnet_small_op13_dynbatch.onnx --no-cache --quiet --runs 1 --input-shape 2x3x64x64");
  CHECK(b2.status == 0);
  CHECK(b2.output.find("2x3x64x64") != std::string::npos);
  const Result fixed = bench("--model " + fixtures + "torch_resnet_small_op11.onnx --no-cache --quiet --runs 1 --input-shape 1x3x32x32");
  CHECK(fixed.status == 1);
  CHECK(fixed.output.find("only symbolic dims can be chosen") != std::string::npos);
  CHECK(bench("--model lenet5 --input-shape 1x1x28x28").status == 1);  // zoo models have fixed inputs
  CHECK(bench("--model lenet5 --input-shape 1xx3").status == 2);
  std::filesystem::remove(out);
}

TEST_CASE("a broken ONNX file is a runtime error naming the file and the place") {
  const std::string bad = temp("broken.onnx");
  std::ofstream(bad, std::ios::binary) << std::string("\x3a\xe8\x07", 3) << "abc";
  const Result r = bench("--model " + bad + " --no-cache");
  CHECK(r.status == 1);
  CHECK(r.output.find(bad + ": corrupt protobuf at byte 1") != std::string::npos);
  // An unsupported op: one line naming the op, the node and the opset.
  using namespace onnx_bytes;
  std::ofstream(bad, std::ios::binary) << model(graph({node("LeakyRelu", {"x"}, {"y"}, {attr_float("alpha", 0.1f)}, "act1")}, {},
                                                      {value_info("x", {1, 3, 8, 8})}, {value_info("y", {})}));
  const Result op = bench("--model " + bad + " --no-cache");
  CHECK(op.status == 1);
  CHECK(op.output.find("unsupported: LeakyRelu 'act1'") != std::string::npos);
  CHECK(op.output.find("(opset 13)") != std::string::npos);
  CHECK(std::count(op.output.begin(), op.output.end(), '\n') == 1);
  std::filesystem::remove(bad);
}

TEST_CASE("--precision mixed binds int8 layers within the budgets and reports them, in the table and the JSON") {
  const std::string json = temp("mixed.json"), table = temp("mixed.txt");
  const Result r = bench("--model lenet5 --no-cache --quiet --runs 3 --threads 1 --searcher exact --precision mixed "
                         "--calibration 3 --accuracy-budget 0.05 --json " + json);
  INFO(r.output);
  REQUIRE(r.status == 0);
  for (const char* row : {"precision: ", " layers in int8; output error ", "f32-only binding (exact, same measurements, timed alternately): ",
                          "memory: weights "})
    CHECK(r.output.find(row) != std::string::npos);
  const auto [status, log] = check_report(
      json, table, r.output,
      "p = r['precision']; "
      "ok = p['mode'] == 'mixed' and p['accuracy_budget'] == 0.05 and p['f32_only_ms'] > 0 and "
      "p['total_bytes'] == r['memory']['weights_bytes'] + r['memory']['peak_activation_bytes'] + "
      "r['memory']['workspace_bytes'] and (p['int8_layers'] == 0 or p['output_error'] <= 0.05); "
      "sys.exit(0 if ok else str(p))");
  INFO(log);
  CHECK(status == 0);
  // The comparison run without the int8 layers' bias correction says so.
  const Result plain = bench("--model lenet5 --no-cache --quiet --runs 3 --threads 1 --searcher exact --precision mixed "
                             "--calibration 3 --accuracy-budget 0.05 --no-bias-correction");
  INFO(plain.output);
  CHECK(plain.status == 0);
  CHECK(plain.output.find("calibration input(s), no bias correction") != std::string::npos);
  CHECK(r.output.find("no bias correction") == std::string::npos);
  // An impossible memory budget is a runtime error naming what the leanest binding needs.
  const Result tight = bench("--model lenet5 --no-cache --quiet --runs 3 --threads 1 --memory-budget 1K");
  CHECK(tight.status == 1);
  CHECK(tight.output.find("memory budget of 1024 bytes cannot be met") != std::string::npos);
  // Argument errors.
  for (const char* args : {"--model lenet5 --precision int4", "--model lenet5 --accuracy-budget 0.1",
                           "--model lenet5 --precision mixed --accuracy-budget -1", "--model lenet5 --memory-budget 12X",
                           "--model lenet5 --precision mixed --calibration 0",
                           "--model lenet5 --precision mixed --accuracy-trade cheapest",
                           "--model lenet5 --precision mixed --calibration cache --no-cache",
                           "--model lenet5 --precision mixed --calibration 3x",
                           "--model lenet5 --accuracy-trade remove",
                           "--model lenet5 --no-bias-correction",
                           "--model lenet5 --precision mixed --calibration cache --no-bias-correction"}) {
    INFO(args);
    CHECK(bench(args).status == 2);
  }
  for (const std::string& f : {json, table, table + ".check"}) std::filesystem::remove(f);
}

TEST_CASE("--calibration cache starts from the calibration and the binding an earlier calibrated run stored") {
  const std::string cache = temp("calibrated.cache");
  std::filesystem::remove(cache);
  const std::string args = "--model lenet5 --quiet --runs 3 --threads 1 --searcher exact --precision mixed "
                           "--accuracy-budget 0.05 --cache " + cache;
  // Nothing stored yet: an error naming the flag and what is missing.
  const Result none = bench(args + " --calibration cache");
  CHECK(none.status == 1);
  CHECK(none.output.find("--calibration cache: ") != std::string::npos);
  CHECK(none.output.find("needs calibrate()") != std::string::npos);

  const Result first = bench(args + " --calibration 3");
  INFO(first.output);
  REQUIRE(first.status == 0);
  const auto int8_layers = [](const std::string& out) {
    const std::size_t at = out.find("precision: ");
    return at == std::string::npos ? -1 : std::atoi(out.c_str() + at + std::strlen("precision: "));
  };
  REQUIRE(int8_layers(first.output) > 0);
  const Result second = bench(args + " --calibration cache");
  INFO(second.output);
  REQUIRE(second.status == 0);
  CHECK(second.output.find("calibration from the tuning cache") != std::string::npos);
  CHECK(second.output.find("output error not measured") != std::string::npos);
  CHECK(second.output.find("(from the cache), searched in") != std::string::npos);
  CHECK(int8_layers(second.output) == int8_layers(first.output));
  // Another budget needs a search the cached calibration cannot check (it holds no samples).
  const Result other = bench("--model lenet5 --quiet --runs 3 --threads 1 --searcher exact --precision mixed "
                             "--accuracy-budget 0.04 --calibration cache --cache " + cache);
  CHECK(other.status == 1);
  CHECK(other.output.find("call calibrate() first") != std::string::npos);
  std::filesystem::remove(cache);
}

TEST_CASE("--predictor measures only the candidates the rule picks, and the report says which were predicted") {
  // A predictor for made-up times that grow with the layer's work, im2col_gemm the fastest: enough to rank.
  std::vector<primsel::predict::Sample> samples;
  for (const char* layer : {"mb1ic1ih28oc6kh5", "mb1ic6ih14oc16kh5", "mb1ic3ih32oc8kh3ph1", "mb1ic16ih16oc32kh3ph1",
                            "mb1ic8ih20oc16kh1", "mb1ic32ih8oc64kh3ph1sh2"}) {
    const primsel::ConvDesc d = primsel::parse_conv_desc(layer).value();
    int rank = 1;
    for (const char* p : {"im2col_gemm", "direct_nchwc", "direct_small_ic", "fft_conv", "winograd_f23", "winograd_f43",
                          "winograd_f63", "conv1x1_gemm"})
      samples.push_back({d, p, 1, 1e-6 * static_cast<double>(d.macs()) * rank++});
  }
  const std::string predictor = temp("predictor.txt"), json = temp("guided.json"), table = temp("guided.txt");
  std::ofstream(predictor) << primsel::predict::LatencyPredictor::train(samples).value().serialize();
  const Result r = bench("--model lenet5 --no-cache --quiet --runs 3 --threads 1 --searcher exact --predictor " +
                         predictor + " --measure top-k:1 --json " + json);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("(predictor-guided: top-k, k 1; the others estimated)") != std::string::npos);
  const auto [status, log] = check_report(
      json, table, r.output,
      "s = r['search']; "
      "measured = sum(1 for l in r['layers'] for c in l['candidates'] if not c.get('predicted')); "
      "chosen_measured = all(not c.get('predicted') for l in r['layers'] for c in l['candidates'] "
      "                      if c['primitive'] == l['primitive']); "
      "ok = s['measure_rule'] == 'top-k' and s['pairs_measured'] < s['pairs'] and measured == s['pairs_measured'] "
      "     and chosen_measured; "
      "sys.exit(0 if ok else str(s))");
  INFO(log);
  CHECK(status == 0);
  // Errors: a rule without a predictor, an unknown rule or k; a missing or corrupt predictor file.
  for (const char* args : {"--model lenet5 --measure top-k", "--model lenet5 --predictor p --measure sideways",
                           "--model lenet5 --predictor p --measure top-k:0", "--model lenet5 --predictor"}) {
    INFO(args);
    CHECK(bench(args).status == 2);
  }
  const Result missing = bench("--model lenet5 --no-cache --quiet --predictor /nonexistent/p.txt");
  CHECK(missing.status == 1);
  CHECK(missing.output.find("cannot open predictor file '/nonexistent/p.txt'") != std::string::npos);
  std::ofstream(predictor) << "primsel-latency-predictor 1\nheader 1 2\n";
  const Result corrupt = bench("--model lenet5 --no-cache --quiet --predictor " + predictor);
  CHECK(corrupt.status == 1);
  CHECK(corrupt.output.find("predictor file '" + predictor + "'") != std::string::npos);
  for (const std::string& f : {predictor, json, table, table + ".check"}) std::filesystem::remove(f);
}
