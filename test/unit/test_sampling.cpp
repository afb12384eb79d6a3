// Philox4x32-10 against the known-answer vectors published with Random123 (Salmon et al.),
// and the sampler's deterministic rules.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "sci_infer/sampling.hpp"

using namespace sci_infer;

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors", "[sampling]") {
  struct Kat { uint32_t ctr[4], key[2], out[4]; };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const auto& k : kats) {
    uint32_t out[4];
    Philox4x32::generate(k.key, k.ctr, out);
    for (int i = 0; i < 4; ++i) CHECK(out[i] == k.out[i]);
  }
}

TEST_CASE("uniform draws lie in the unit interval (0 included, 1 not) and are keyed by seed, record and position", "[sampling]") {
  double sum = 0;
  for (uint64_t p = 0; p < 10000; ++p) {
    const double u = uniform_draw(1, 2, p);
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
  }
  CHECK(std::abs(sum / 10000 - 0.5) < 0.02);
  CHECK(uniform_draw(1, 2, 3) == uniform_draw(1, 2, 3));
  CHECK(uniform_draw(1, 2, 3) != uniform_draw(1, 3, 3));
  CHECK(uniform_draw(1, 2, 3) != uniform_draw(2, 2, 3));
}

TEST_CASE("greedy picks the lowest id among equal maxima; filters restrict the choice", "[sampling]") {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
  SamplingParams greedy;
  float lp = 0;
  CHECK(sample_token(logits.data(), 5, greedy, 0, 0, &lp) == 1);
  // log softmax by hand, in double
  double z = 0;
  for (float v : logits) z += std::exp(double(v));
  CHECK(lp == Approx(2.0 - std::log(z)).epsilon(1e-6));
  SamplingParams topk;
  topk.temperature = 10.0f;  // nearly uniform, but only ids 1 and 3 survive top-2
  topk.top_k = 2;
  for (uint64_t pos = 0; pos < 200; ++pos) {
    const int32_t t = sample_token(logits.data(), 5, topk, 9, pos, nullptr);
    REQUIRE((t == 1 || t == 3));
  }
  SamplingParams topp;
  topp.temperature = 1.0f;
  topp.top_p = 0.01f;  // the nucleus is the single most likely token
  for (uint64_t pos = 0; pos < 50; ++pos) REQUIRE(sample_token(logits.data(), 5, topp, 9, pos, nullptr) == 1);
}
