#include "kernels/device_embed.hpp"

namespace sci_infer {

void gather_table_rows(const ByteVector& table, size_t row_bytes, int32_t vocab0, int32_t n_rows,
                       const StepTokens& st, const ByteVector& rows) {
  const auto token = st.token;
  // Rows are copied in 4-byte words where the row allows it (every type's row is, except Q8_0
  // rows of an odd number of blocks: 34 bytes each), else byte by byte.
  const size_t unit = row_bytes % 4 == 0 ? 4 : 1, units = row_bytes / unit;
  const uint8_t* src = table.data();
  uint8_t* dst = rows.data();
  Kokkos::parallel_for(
      "sci_infer::gather_table_rows", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {int64_t(st.n), int64_t(units)}),
      KOKKOS_LAMBDA(const int64_t t, const int64_t u) {
        const int32_t id = token(t);
        if (id < vocab0 || id >= vocab0 + n_rows) return;  // an embedding input, or another rank's row
        const size_t from = size_t(id - vocab0) * row_bytes + u * unit, to = size_t(t) * row_bytes + u * unit;
        if (unit == 4) {
          *reinterpret_cast<uint32_t*>(dst + to) = *reinterpret_cast<const uint32_t*>(src + from);
        } else {
          dst[to] = src[from];
        }
      });
}

}  // namespace sci_infer
