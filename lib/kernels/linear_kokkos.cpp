// The Kokkos tiled GEMM: `--gemm kokkos` on any backend, and what `--gemm fixed` runs on a device
// backend (CUDA, HIP, SYCL; routing in linear.cpp). It computes exactly the arithmetic of the
// host fixed-order kernels, so CPU and GPU give the same bits:
//  * F32/F16/BF16: every output is acc = fma(x[k], w[k], acc) for k in order from +0.0f on the
//    exactly widened weight (linear_fixed_order.cpp);
//  * Q8_0: activations quantized per 32-block (q8_activations.hpp), exact int32 block dot
//    products (dp4a on CUDA), acc = fma(float(isum), d_w * d_x, acc) over blocks in order
//    (linear_q8_int8.cpp);
//  * k_chunks > 1: one chain per K-chunk, merged by the tree of linear.hpp (chunk_tree_push).
//
// Structure (one team = one TM x TN output tile; the league splits only M and N, never K):
//  * weights are packed once at load into panels of TN outputs, [panel][k][TN] in the stored
//    type (Q8_0: [panel][block][k/4][TN] words of 4 int8 + [panel][block][TN] scales), so a
//    K-tile of a panel is one contiguous, coalesced read;
//  * per K-tile the team stages X (TM x TK, transposed, padded against bank conflicts) and the
//    widened W panel rows (TK x TN) in team scratch (shared memory);
//  * each thread owns an RM x RN register block of outputs (rows mi + 16 i, columns nj + 16 j:
//    the threads of a warp read consecutive scratch words and store consecutive columns).
// Tiles never span a K-chunk boundary, and every output's chain runs wholly in one thread, so the
// tile shape, the team size and the league order cannot change a bit. A team with fewer threads
// than register blocks (host backends) processes the blocks in groups, re-staging the tiles.
//
// Tile shapes, chosen for sm_80/sm_90 (not measured here: no GPU on the development machine):
// 64 x 128 x 16 with 4 x 8 blocks per thread (256 threads, 12 KiB scratch, 32 accumulators: 12
// scratch loads per 32 FMAs) for large GEMMs, 32 x 64 with 2 x 4 blocks when the large tiles would
// leave the GPU mostly idle (decode steps of few sequences).
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/device_space.hpp"
#include "kernels/linear.hpp"
#include "kernels/linear_kokkos.hpp"
#include "kernels/panel_tile.hpp"
#include "kernels/q8_activations.hpp"
#include "kernels/weight_decode.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

using Policy = Kokkos::TeamPolicy<>;
using Member = Policy::member_type;
using Bytes = Kokkos::View<uint8_t*>;

template <int TM_, int TN_, int RM_, int RN_>
struct Tile {
  static constexpr int TM = TM_, TN = TN_, RM = RM_, RN = RN_;
  static constexpr int TM_THREADS = TM / RM, TN_THREADS = TN / RN;
  static constexpr int BLOCKS = TM_THREADS * TN_THREADS;  // register blocks per tile
  static constexpr int XSTRIDE = TM + 1;                  // padded scratch row of staged X
};
using BigTile = Tile<64, 128, 4, 8>;
using SmallTile = Tile<32, 64, 2, 4>;
constexpr int kPanelN = 128;  // packed panel width: the widest tile; small tiles read half-panels
constexpr int kTK = 16;       // K-tile of the float kernels (the Q8_0 kernel stages one 32-block)
static_assert(BigTile::BLOCKS == 256 && SmallTile::BLOCKS == 256, "tiles are sized for 256 threads");
static_assert(kPanelN % BigTile::TN == 0 && kPanelN % SmallTile::TN == 0, "tiles must fit the panels");

KOKKOS_INLINE_FUNCTION int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

template <GgmlType T>
KOKKOS_INLINE_FUNCTION float widen(const uint8_t* p, int64_t i) {
  if constexpr (T == GgmlType::F32) {
    return reinterpret_cast<const float*>(p)[i];
  } else if constexpr (T == GgmlType::F16) {
    return device_half_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
  } else {
    return device_bf16_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
  }
}

// Dot product of 4 signed bytes packed in a and b, added to c: exact in int32 either way.
KOKKOS_INLINE_FUNCTION int32_t dot4_add(int32_t a, int32_t b, int32_t c) {
#if defined(__CUDA_ARCH__)
  return __dp4a(a, b, c);
#else
  for (int s = 0; s < 32; s += 8) c += int32_t(int8_t(uint32_t(a) >> s)) * int32_t(int8_t(uint32_t(b) >> s));
  return c;
#endif
}

// Where one team works: its output tile and, for the current group, its thread's register block.
template <class TL>
struct TileIndex {
  int64_t row0, col0, panel;
  int col_in_panel;  // first column of the tile inside its packed panel
  KOKKOS_INLINE_FUNCTION TileIndex(int64_t league_rank, int64_t tiles_n) {
    row0 = (league_rank / tiles_n) * TL::TM;
    col0 = (league_rank % tiles_n) * TL::TN;
    panel = col0 / kPanelN;
    col_in_panel = int(col0 % kPanelN);
  }
};

// One thread's RM x RN block of outputs: the accumulators of the current K-chunk and, when the
// K range is chunked, each output's K-chunk tree (panel_tile.hpp); both kernels end the same way.
template <class TL>
struct RegisterBlock {
  float acc[TL::RM][TL::RN];
  float stack[TL::RM][TL::RN][7];
  KOKKOS_INLINE_FUNCTION void zero() {
    for (int i = 0; i < TL::RM; ++i)
      for (int j = 0; j < TL::RN; ++j) acc[i][j] = 0.0f;
  }
  KOKKOS_INLINE_FUNCTION void push(int c) {
    for (int i = 0; i < TL::RM; ++i)
      for (int j = 0; j < TL::RN; ++j) chunk_tree_push(stack[i][j], c, acc[i][j]);
  }
  // Into y, the outputs outside (m, n_out) dropped.
  KOKKOS_INLINE_FUNCTION void store(const TileIndex<TL>& t, int mi, int nj, int64_t m, int64_t n_out, float* y,
                                    int64_t ldy) const {
    for (int i = 0; i < TL::RM; ++i) {
      const int64_t row = t.row0 + mi + i * TL::TM_THREADS;
      for (int j = 0; j < TL::RN; ++j) {
        const int64_t col = t.col0 + nj + j * TL::TN_THREADS;
        if (row < m && col < n_out) y[row * ldy + col] = acc[i][j];
      }
    }
  }
};

// The F32/F16/BF16 kernel.
template <GgmlType T, class TL>
struct FloatTiles {
  static constexpr int kElem = T == GgmlType::F32 ? 4 : 2;
  const float* x;
  int64_t ldx;
  float* y;
  int64_t ldy;
  const uint8_t* w;  // [panel][k][kPanelN] in the stored type
  int64_t m, n_out, k, tiles_n;
  int chunks;

  static size_t scratch_bytes() { return size_t(kTK) * (TL::XSTRIDE + TL::TN) * sizeof(float); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const TileIndex<TL> t(team.league_rank(), tiles_n);
    float* xs = static_cast<float*>(team.team_scratch(0).get_shmem(size_t(kTK) * TL::XSTRIDE * sizeof(float)));
    float* ws = static_cast<float*>(team.team_scratch(0).get_shmem(size_t(kTK) * TL::TN * sizeof(float)));
    const int rank = team.team_rank(), size = team.team_size();
    const uint8_t* panel = w + size_t(t.panel) * size_t(k) * kPanelN * kElem;
    const int64_t len = k / chunks;
    const int groups = (TL::BLOCKS + size - 1) / size;
    for (int g = 0; g < groups; ++g) {
      const int blk = rank + g * size;  // this thread's register block in this group
      const int mi = blk / TL::TN_THREADS, nj = blk % TL::TN_THREADS;
      RegisterBlock<TL> r;
      auto& acc = r.acc;
      for (int c = 0; c < chunks; ++c) {
        r.zero();
        const int64_t kend = (c + 1) * len;
        for (int64_t k0 = c * len; k0 < kend; k0 += kTK) {
          const int kt = int(min64(kTK, kend - k0));
          team.team_barrier();  // the previous tile's readers are done
          for (int e = rank; e < TL::TM * kTK; e += size) {
            const int r = e / kTK, kk = e % kTK;
            if (kk < kt) xs[kk * TL::XSTRIDE + r] = t.row0 + r < m ? x[(t.row0 + r) * ldx + k0 + kk] : 0.0f;
          }
          for (int e = rank; e < kTK * TL::TN; e += size) {
            const int kk = e / TL::TN, j = e % TL::TN;
            if (kk < kt) ws[e] = widen<T>(panel, (k0 + kk) * kPanelN + t.col_in_panel + j);
          }
          team.team_barrier();
          if (blk < TL::BLOCKS) {
            for (int kk = 0; kk < kt; ++kk) {
              float a[TL::RM], b[TL::RN];
              for (int i = 0; i < TL::RM; ++i) a[i] = xs[kk * TL::XSTRIDE + mi + i * TL::TM_THREADS];
              for (int j = 0; j < TL::RN; ++j) b[j] = ws[kk * TL::TN + nj + j * TL::TN_THREADS];
              for (int i = 0; i < TL::RM; ++i)
                for (int j = 0; j < TL::RN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
            }
          }
        }
        if (chunks > 1) r.push(c);
      }
      if (blk < TL::BLOCKS) r.store(t, mi, nj, m, n_out, y, ldy);
    }
  }
};

// The Q8_0 kernel: one K-tile = one 32-block = 8 words of 4 int8 per row and per output.
template <class TL>
struct Q8Tiles {
  const int32_t* xq;  // [row][K/4] words of quantized activations
  const float* xd;    // [row][block] activation scales
  float* y;
  int64_t ldy;
  const int32_t* wq;  // [panel][block][8][kPanelN]
  const float* wd;    // [panel][block][kPanelN]
  int64_t m, n_out, n_blocks, tiles_n;
  int chunks;

  static constexpr int kWords = kQ8Block / 4;
  static size_t scratch_bytes() {
    return size_t(kWords) * (TL::XSTRIDE + TL::TN) * sizeof(int32_t) + size_t(TL::TM + TL::TN) * sizeof(float);
  }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const TileIndex<TL> t(team.league_rank(), tiles_n);
    auto& sc = team.team_scratch(0);
    int32_t* xs = static_cast<int32_t*>(sc.get_shmem(size_t(kWords) * TL::XSTRIDE * sizeof(int32_t)));
    int32_t* ws = static_cast<int32_t*>(sc.get_shmem(size_t(kWords) * TL::TN * sizeof(int32_t)));
    float* dxs = static_cast<float*>(sc.get_shmem(size_t(TL::TM) * sizeof(float)));
    float* dws = static_cast<float*>(sc.get_shmem(size_t(TL::TN) * sizeof(float)));
    const int rank = team.team_rank(), size = team.team_size();
    const int64_t per_chunk = n_blocks / chunks, row_words = n_blocks * kWords;
    const int groups = (TL::BLOCKS + size - 1) / size;
    for (int g = 0; g < groups; ++g) {
      const int blk = rank + g * size;
      const int mi = blk / TL::TN_THREADS, nj = blk % TL::TN_THREADS;
      RegisterBlock<TL> r;
      auto& acc = r.acc;
      for (int c = 0; c < chunks; ++c) {
        r.zero();
        for (int64_t b = c * per_chunk; b < (c + 1) * per_chunk; ++b) {
          team.team_barrier();
          const int32_t* wblock = wq + (size_t(t.panel) * n_blocks + b) * kWords * kPanelN;
          const float* dblock = wd + (size_t(t.panel) * n_blocks + b) * kPanelN;
          for (int e = rank; e < TL::TM * kWords; e += size) {
            const int r = e / kWords, q = e % kWords;
            xs[q * TL::XSTRIDE + r] = t.row0 + r < m ? xq[(t.row0 + r) * row_words + b * kWords + q] : 0;
          }
          for (int e = rank; e < kWords * TL::TN; e += size) {
            const int q = e / TL::TN, j = e % TL::TN;
            ws[e] = wblock[q * kPanelN + t.col_in_panel + j];
          }
          for (int e = rank; e < TL::TM; e += size) dxs[e] = t.row0 + e < m ? xd[(t.row0 + e) * n_blocks + b] : 0.0f;
          for (int e = rank; e < TL::TN; e += size) dws[e] = dblock[t.col_in_panel + e];
          team.team_barrier();
          if (blk < TL::BLOCKS) {
            int32_t isum[TL::RM][TL::RN];
            for (int i = 0; i < TL::RM; ++i)
              for (int j = 0; j < TL::RN; ++j) isum[i][j] = 0;
            for (int q = 0; q < kWords; ++q) {
              int32_t a[TL::RM], bw[TL::RN];
              for (int i = 0; i < TL::RM; ++i) a[i] = xs[q * TL::XSTRIDE + mi + i * TL::TM_THREADS];
              for (int j = 0; j < TL::RN; ++j) bw[j] = ws[q * TL::TN + nj + j * TL::TN_THREADS];
              for (int i = 0; i < TL::RM; ++i)
                for (int j = 0; j < TL::RN; ++j) isum[i][j] = dot4_add(a[i], bw[j], isum[i][j]);
            }
            for (int i = 0; i < TL::RM; ++i)
              for (int j = 0; j < TL::RN; ++j)
                acc[i][j] = fmaf(float(isum[i][j]), dws[nj + j * TL::TN_THREADS] * dxs[mi + i * TL::TM_THREADS],
                                 acc[i][j]);
          }
        }
        if (chunks > 1) r.push(c);
      }
      if (blk < TL::BLOCKS) r.store(t, mi, nj, m, n_out, y, ldy);
    }
  }
};

// Runs a tile functor over the output grid of (m, n_out) with the configured team size.
template <class F>
void launch(const char* name, F f, int64_t m, int64_t n_out, int team_size, size_t scratch) {
  using TL = typename F::TileType;
  const int64_t tiles_m = (m + TL::TM - 1) / TL::TM;
  f.tiles_n = (n_out + TL::TN - 1) / TL::TN;
  Policy policy(int(tiles_m * f.tiles_n), team_size);
  Kokkos::parallel_for(name, policy.set_scratch_size(0, Kokkos::PerTeam(scratch)), f);
}

template <GgmlType T, class TL>
struct FloatLaunch : FloatTiles<T, TL> {
  using TileType = TL;
};
template <class TL>
struct Q8Launch : Q8Tiles<TL> {
  using TileType = TL;
};

// Host backends default to one thread per team (each team then runs its 256 register blocks one
// after another); device backends to the 256 the tiles are sized for.
int resolve_team_size(int requested) {
  if (requested > 0) return requested;
  return device_backend() ? 256 : 1;
}

// Large tiles unless they would leave most of the device idle (the bits do not depend on it).
bool use_big_tiles(const KokkosGemmConfig& cfg, int64_t m, int64_t n_out) {
  if (cfg.tiles == KokkosGemmConfig::Tiles::Big) return true;
  if (cfg.tiles == KokkosGemmConfig::Tiles::Small) return false;
  const int64_t big = ((m + BigTile::TM - 1) / BigTile::TM) * ((n_out + BigTile::TN - 1) / BigTile::TN);
  return big * 256 >= int64_t(Kokkos::DefaultExecutionSpace().concurrency());
}

class KokkosLinear final : public Linear {
 public:
  KokkosLinear(const WeightView* parts, int n_parts, int k_chunks, const KokkosGemmConfig& cfg)
      : type_(parts[0].type), cfg_(cfg), team_size_(resolve_team_size(cfg.team_size)) {
    n_in_ = parts[0].n_in;
    bool mixed = false;
    for (int p = 0; p < n_parts; ++p) {
      if (parts[p].n_in != n_in_) throw Error("fused weight parts differ in K: " + parts[p].name);
      mixed = mixed || parts[p].type != type_;
      n_out_ += parts[p].n_out;
    }
    check_k_chunks(parts[0].name, n_in_, k_chunks);
    k_chunks_ = k_chunks;
    // F32/F16/BF16 keep their stored type (widened exactly in the kernel); any other type, or
    // parts of mixed types, are dequantized to F32 here (decode_row: exact).
    std::vector<float> widened;
    if (mixed || (type_ != GgmlType::F32 && type_ != GgmlType::F16 && type_ != GgmlType::BF16)) {
      int64_t n_out = 0, n_in = 0;
      widened = decode_weight_parts(parts, n_parts, n_out, n_in);
      type_ = GgmlType::F32;
    }
    const int64_t panels = (n_out_ + kPanelN - 1) / kPanelN;
    const size_t elem = type_ == GgmlType::F32 ? 4 : 2;
    std::vector<uint8_t> packed(size_t(panels) * n_in_ * kPanelN * elem, 0);  // zero pad columns
    int64_t n = 0;
    for (int p = 0; p < n_parts; ++p)
      for (int64_t r = 0; r < parts[p].n_out; ++r, ++n) {
        const uint8_t* src = widened.empty() ? parts[p].row(r) : reinterpret_cast<const uint8_t*>(&widened[n * n_in_]);
        uint8_t* dst = packed.data() + size_t(n / kPanelN) * n_in_ * kPanelN * elem + size_t(n % kPanelN) * elem;
        for (int64_t k = 0; k < n_in_; ++k) std::memcpy(dst + size_t(k) * kPanelN * elem, src + k * elem, elem);
      }
    w_ = upload(packed, "linear_w");
  }
  size_t bytes() const override { return w_.span(); }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    if (use_big_tiles(cfg_, m, n_out_)) return run<BigTile>(x, m, ldx, y, ldy);
    run<SmallTile>(x, m, ldx, y, ldy);
  }

 private:
  GgmlType type_;
  KokkosGemmConfig cfg_;
  int team_size_;
  Bytes w_;

  static Bytes upload(const std::vector<uint8_t>& host, const char* label) {
    Bytes v(Kokkos::ViewAllocateWithoutInitializing(label), std::max<size_t>(host.size(), 1));
    Kokkos::View<const uint8_t*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(host.data(),
                                                                                                host.size());
    Kokkos::deep_copy(Kokkos::subview(v, std::make_pair(size_t(0), host.size())), h);
    return v;
  }

  template <class TL>
  void run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const {
    switch (type_) {
      case GgmlType::F32: return run_type<GgmlType::F32, TL>(x, m, ldx, y, ldy);
      case GgmlType::F16: return run_type<GgmlType::F16, TL>(x, m, ldx, y, ldy);
      default: return run_type<GgmlType::BF16, TL>(x, m, ldx, y, ldy);
    }
  }
  template <GgmlType T, class TL>
  void run_type(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const {
    FloatLaunch<T, TL> f;
    f.x = x, f.ldx = ldx, f.y = y, f.ldy = ldy, f.w = w_.data(), f.m = m, f.n_out = n_out_, f.k = n_in_;
    f.chunks = k_chunks_;
    launch("sci_infer::linear_tiles", f, m, n_out_, team_size_, FloatTiles<T, TL>::scratch_bytes());
  }
};

class KokkosQ8Linear final : public Linear {
 public:
  KokkosQ8Linear(const WeightView* parts, int n_parts, int k_chunks, const KokkosGemmConfig& cfg)
      : cfg_(cfg), team_size_(resolve_team_size(cfg.team_size)) {
    n_in_ = parts[0].n_in;
    for (int p = 0; p < n_parts; ++p) {
      if (parts[p].type != GgmlType::Q8_0 || parts[p].n_in != n_in_)
        throw Error("fused weight parts differ in type or K: " + parts[p].name);
      n_out_ += parts[p].n_out;
    }
    if (n_in_ % kQ8Block != 0) throw Error(parts[0].name + ": Q8_0 rows must be a multiple of 32");
    n_blocks_ = n_in_ / kQ8Block;
    check_k_chunks(parts[0].name, n_blocks_, k_chunks);  // chunks are whole blocks
    k_chunks_ = k_chunks;
    const int64_t panels = (n_out_ + kPanelN - 1) / kPanelN;
    constexpr int kWords = kQ8Block / 4;
    std::vector<int32_t> q(size_t(panels) * n_blocks_ * kWords * kPanelN, 0);
    std::vector<float> d(size_t(panels) * n_blocks_ * kPanelN, 0.0f);
    int64_t n = 0;
    for (int p = 0; p < n_parts; ++p)
      for (int64_t r = 0; r < parts[p].n_out; ++r, ++n) {
        const int64_t panel = n / kPanelN, col = n % kPanelN;
        for (int64_t b = 0; b < n_blocks_; ++b) {
          const uint8_t* block = parts[p].row(r) + b * 34;
          uint16_t h;
          std::memcpy(&h, block, 2);
          d[(size_t(panel) * n_blocks_ + b) * kPanelN + col] = fp16_to_f32(h);
          for (int w = 0; w < kWords; ++w) {
            uint32_t word = 0;  // 4 consecutive k, little end first (dp4a's byte order)
            for (int s = 0; s < 4; ++s) word |= uint32_t(block[2 + 4 * w + s]) << (8 * s);
            q[((size_t(panel) * n_blocks_ + b) * kWords + w) * kPanelN + col] = int32_t(word);
          }
        }
      }
    q_ = Kokkos::View<int32_t*>(Kokkos::ViewAllocateWithoutInitializing("q8_w"), q.size());
    d_ = Kokkos::View<float*>(Kokkos::ViewAllocateWithoutInitializing("q8_d"), d.size());
    Kokkos::deep_copy(q_, Kokkos::View<const int32_t*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                              q.data(), q.size()));
    Kokkos::deep_copy(d_, Kokkos::View<const float*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                              d.data(), d.size()));
  }
  size_t bytes() const override { return q_.span() * sizeof(int32_t) + d_.span() * sizeof(float); }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    // Quantized activations: grown to the largest step seen, then reused (no per-call allocation).
    if (int64_t(xd_.extent(0)) < m * n_blocks_) {
      xq_ = Kokkos::View<int32_t*>(Kokkos::ViewAllocateWithoutInitializing("q8_x"), size_t(m) * n_in_ / 4);
      xd_ = Kokkos::View<float*>(Kokkos::ViewAllocateWithoutInitializing("q8_xd"), size_t(m) * n_blocks_);
    }
    int8_t* const xq = reinterpret_cast<int8_t*>(xq_.data());
    float* const xd = xd_.data();
    const int64_t nb = n_blocks_, k = n_in_;
    Kokkos::parallel_for(
        "sci_infer::linear_tiles_q8_quantize", Kokkos::RangePolicy<>(0, m * nb), KOKKOS_LAMBDA(const int64_t e) {
          const int64_t i = e / nb, b = e % nb;
          quantize_q8_block(x + i * ldx + b * kQ8Block, xq + i * k + b * kQ8Block, xd + e);
        });
    if (use_big_tiles(cfg_, m, n_out_)) return run<BigTile>(m, y, ldy);
    run<SmallTile>(m, y, ldy);
  }

 private:
  KokkosGemmConfig cfg_;
  int team_size_;
  int64_t n_blocks_ = 0;
  Kokkos::View<int32_t*> q_;
  Kokkos::View<float*> d_;
  mutable Kokkos::View<int32_t*> xq_;
  mutable Kokkos::View<float*> xd_;

  template <class TL>
  void run(int64_t m, float* y, int64_t ldy) const {
    Q8Launch<TL> f;
    f.xq = xq_.data(), f.xd = xd_.data(), f.y = y, f.ldy = ldy, f.wq = q_.data(), f.wd = d_.data();
    f.m = m, f.n_out = n_out_, f.n_blocks = n_blocks_, f.chunks = k_chunks_;
    launch("sci_infer::linear_tiles_q8", f, m, n_out_, team_size_, Q8Tiles<TL>::scratch_bytes());
  }
};

}  // namespace

std::unique_ptr<Linear> make_linear_kokkos(const WeightView* parts, int n_parts, int k_chunks,
                                           const KokkosGemmConfig& cfg) {
  bool q8 = true;
  for (int p = 0; p < n_parts; ++p) q8 = q8 && parts[p].type == GgmlType::Q8_0;
  if (q8) return std::make_unique<KokkosQ8Linear>(parts, n_parts, k_chunks, cfg);
  return std::make_unique<KokkosLinear>(parts, n_parts, k_chunks, cfg);
}

std::unique_ptr<Linear> make_linear_kokkos(const WeightView* parts, int n_parts, int k_chunks) {
  return make_linear_kokkos(parts, n_parts, k_chunks, KokkosGemmConfig{});
}

int kokkos_gemm_team_size_max() {
  using TL = BigTile;
  FloatLaunch<GgmlType::F32, TL> f{};
  Policy probe(1, 1);
  probe.set_scratch_size(0, Kokkos::PerTeam(FloatTiles<GgmlType::F32, TL>::scratch_bytes()));
  return probe.team_size_max(f, Kokkos::ParallelForTag());
}

}  // namespace sci_infer
