#pragma once
// The embedding gather on a device backend: the table lives in device memory (model_weights.cpp)
// and a kernel copies each token's row into the step's row buffer, which embed_tokens (ops.hpp)
// then decodes, exactly as on host backends where the rows come from the file by pread.
#include "kernels/ops.hpp"

namespace sci_infer {

// rows[t] = table[token[t] - vocab0] (row_bytes each) for the step's tokens of this rank's
// vocabulary slice [vocab0, vocab0 + n_rows); other tokens' rows are left untouched.
void gather_table_rows(const ByteVector& table, size_t row_bytes, int32_t vocab0, int32_t n_rows,
                       const StepTokens& st, const ByteVector& rows);

}  // namespace sci_infer
