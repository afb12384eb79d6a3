/* sci_infer C API: call a Llama-family GGUF model from C (or Fortran, see sci_infer.mod).
 *
 *   sci_infer_engine* e;
 *   if (sci_infer_engine_create("m.gguf", NULL, MPI_COMM_WORLD, &e) != SCI_INFER_OK)
 *     fprintf(stderr, "%s\n", sci_infer_last_error(NULL));
 *   sci_infer_input in = {0};
 *   in.n = 2; in.tokens = ids; in.token_counts = counts;
 *   sci_infer_embed(e, &in, vectors, capacity, &required);    (2 x d_model floats)
 *   sci_infer_engine_destroy(e);
 *
 * Conventions (docs/api.md):
 *  - Every function returns a sci_infer_status; on failure a message naming the function and the
 *    problem is kept: sci_infer_last_error(handle), or sci_infer_last_error(NULL) for the calling
 *    thread's last failure (the only way to learn why a create failed).
 *  - Buffers belong to the caller. Each output has a capacity (in elements) and a `required`
 *    out-parameter. Pass NULL with capacity 0 to learn the size without running anything; a
 *    capacity below the size returns SCI_INFER_ERR_BUFFER_TOO_SMALL with *required set.
 *  - MPI: sci_infer_engine_create is collective over its communicator and every rank returns the
 *    same status and message. Everything else is local to the rank: each rank runs the requests
 *    it was given (data parallel). The communicator must outlive the engine.
 *  - No global state: engines are independent (two models in one process work). Calls on one
 *    engine must not overlap in time (one thread at a time per engine).
 *  - Misuse never crashes: NULL, closed and destroyed handles, bad sizes and bad options all return
 *    an error. Destroy keeps the handle's 48 bytes (a tombstone, never freed) so that later calls
 *    through it are reported rather than reading freed memory; leak checkers list one per engine.
 */
#ifndef SCI_INFER_SCI_INFER_H
#define SCI_INFER_SCI_INFER_H

#include <mpi.h>
#include <stdint.h>

#if defined(_WIN32)
#define SCI_INFER_API
#else
#define SCI_INFER_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sci_infer_status {
  SCI_INFER_OK = 0,
  SCI_INFER_ERR_HANDLE = 1,           /* NULL, destroyed, or not a sci_infer engine */
  SCI_INFER_ERR_CLOSED = 2,           /* the engine was closed (sci_infer_engine_close) */
  SCI_INFER_ERR_ARGUMENT = 3,         /* NULL pointer, negative count, bad option value */
  SCI_INFER_ERR_BUFFER_TOO_SMALL = 4, /* *required holds the size needed */
  SCI_INFER_ERR_LOAD = 5,             /* model file missing or invalid, or engine could not be built */
  SCI_INFER_ERR_MPI = 6,              /* MPI not initialised, MPI_COMM_NULL, intercommunicator */
  SCI_INFER_ERR_REQUEST = 7,          /* some sequences failed (bad token id, too long, ...); others ran */
  SCI_INFER_ERR_INTERNAL = 8          /* out of memory or an unexpected library error */
} sci_infer_status;

typedef enum sci_infer_pooling { SCI_INFER_POOLING_MEAN = 0, SCI_INFER_POOLING_LAST = 1 } sci_infer_pooling;

typedef struct sci_infer_engine sci_infer_engine; /* opaque */

/* Engine options. Always start from sci_infer_options_init: it sets struct_size, which is how a
 * struct that was never initialised is told apart (SCI_INFER_ERR_ARGUMENT). */
typedef struct sci_infer_options {
  int32_t struct_size;     /* sizeof(sci_infer_options) */
  int32_t threads;         /* 0..4x the hardware threads (at least 16); 0: SCI_INFER_THREADS, else
                              OMP_NUM_THREADS, else all cores */
  int32_t kv_cache_mb;     /* 1..physical memory; KV-cache memory budget in MiB (default 1024) */
  int32_t max_batch;       /* 1..65536; sequences decoded together (default 64) */
  int32_t max_step_tokens; /* 1..2^20; tokens per forward step (default 512) */
  int32_t pooling;         /* sci_infer_pooling, for embed (default mean over positions) */
  char gemm[16];           /* NUL-terminated: "fixed" (default, bitwise reproducible), "kokkos",
                              "onednn", "cublas" (CUDA builds) */
  int32_t tensor_parallel; /* >= 1 (default 1): consecutive groups of this many ranks share one
                              model; every rank of a group makes the same calls with the same
                              inputs and gets the same outputs (docs/scaling.md) */
  int32_t reduction;       /* sci_infer_reduction: DETERMINISTIC (default, same bits for every
                              tensor_parallel) or FAST (MPI_Allreduce) */
  int32_t device;          /* GPU of this rank (device builds): SCI_INFER_DEVICE_AUTO (-1, default:
                              SCI_INFER_DEVICE, else the node-local rank modulo the visible GPUs) or
                              an index >= 0 below the GPUs this process sees. A host-only build
                              accepts any index >= 0 and runs on the host. Kokkos is initialised
                              once per process: the first engine's device holds */
} sci_infer_options;

enum { SCI_INFER_DEVICE_AUTO = -1 };

enum sci_infer_reduction { SCI_INFER_REDUCTION_DETERMINISTIC = 0, SCI_INFER_REDUCTION_FAST = 1 };

/* A batch of n sequences. Inputs are concatenated sequence after sequence, with a count per
 * sequence. Give token ids or text (not both), optionally preceded by embedding rows. */
typedef struct sci_infer_input {
  int32_t n;                     /* number of sequences, >= 0 */
  uint64_t first_id;             /* sequence i has record id first_id + i (keys sampling draws) */
  const int32_t* tokens;         /* token ids; token_counts[i] of them for sequence i */
  const int32_t* token_counts;
  const char* text;              /* UTF-8 prompts, text_lengths[i] bytes each, no NUL needed;
                                    tokenized with the model's BOS like sci_infer_tokenize(.., 1) */
  const int32_t* text_lengths;
  const float* embeddings;       /* embedding_rows[i] rows of d_model floats, fed before the tokens */
  const int32_t* embedding_rows;
} sci_infer_input;

typedef struct sci_infer_generate_params {
  int32_t max_new_tokens; /* >= 0 (default 16) */
  float temperature;      /* >= 0; 0: greedy (default) */
  int32_t top_k;          /* >= 0; 0: off */
  float top_p;            /* (0, 1]; 1: off */
  uint64_t seed;          /* with the record id, keys the random draws */
} sci_infer_generate_params;

SCI_INFER_API const char* sci_infer_version(void);
/* The Kokkos this library was built with and where its kernels run, e.g. "Kokkos 4.6.1
 * Cuda/CudaSpace" or "Kokkos 4.6.1 OpenMP/HostSpace". */
SCI_INFER_API const char* sci_infer_kokkos(void);
/* The device this process runs on: "host", or e.g. "cuda:0 NVIDIA H200 (sm_90)" once an engine
 * exists ("cuda (not initialised)" before). Valid until the next call from this thread. */
SCI_INFER_API const char* sci_infer_device(void);
SCI_INFER_API const char* sci_infer_status_name(int status); /* "SCI_INFER_ERR_HANDLE", ... */
/* The message of the last failed call on `engine` ("" if its last call succeeded); with NULL, a
 * destroyed or an invalid handle, the calling thread's last failure. Valid until the next call;
 * never NULL. */
SCI_INFER_API const char* sci_infer_last_error(const sci_infer_engine* engine);

SCI_INFER_API void sci_infer_options_init(sci_infer_options* options);
SCI_INFER_API void sci_infer_generate_params_init(sci_infer_generate_params* params);

/* Collective over comm. options may be NULL (defaults). On failure *engine is NULL and the
 * message is in sci_infer_last_error(NULL), the same on every rank. */
SCI_INFER_API int sci_infer_engine_create(const char* model_path, const sci_infer_options* options, MPI_Comm comm,
                                          sci_infer_engine** engine);
/* The same with a Fortran communicator handle (MPI_Fint, as from `use mpi` or comm%MPI_VAL). */
SCI_INFER_API int sci_infer_engine_create_f(const char* model_path, const sci_infer_options* options, MPI_Fint comm,
                                            sci_infer_engine** engine);
/* Frees the model, weights and KV cache; the handle stays valid (calls return SCI_INFER_ERR_CLOSED)
 * until destroyed. Local. */
SCI_INFER_API int sci_infer_engine_close(sci_infer_engine* engine);
/* Closes if needed, then invalidates the handle. Local. */
SCI_INFER_API int sci_infer_engine_destroy(sci_infer_engine* engine);

/* Any pointer may be NULL to skip that value. */
SCI_INFER_API int sci_infer_engine_dims(sci_infer_engine* engine, int32_t* n_vocab, int32_t* d_model,
                                        int32_t* context);

/* text_len < 0: text is NUL-terminated. add_special != 0: BOS (and EOS) as the model asks. */
SCI_INFER_API int sci_infer_tokenize(sci_infer_engine* engine, const char* text, int64_t text_len, int add_special,
                                     int32_t* ids, int64_t capacity, int64_t* required);
/* Writes a NUL-terminated string; *required counts the NUL. */
SCI_INFER_API int sci_infer_detokenize(sci_infer_engine* engine, const int32_t* ids, int64_t n_ids, char* text,
                                       int64_t capacity, int64_t* required);

/* In every batch call a sequence that fails (bad token id, longer than the context, ...) makes the
 * call return SCI_INFER_ERR_REQUEST with a message naming it; the other sequences' results are
 * written, the failed sequence's values are NaN (and its generate count -1). */

/* vectors: n x d_model floats, row i the pooled final hidden state of sequence i. */
SCI_INFER_API int sci_infer_embed(sci_infer_engine* engine, const sci_infer_input* input, float* vectors,
                                  int64_t capacity, int64_t* required);
/* logprobs: log p(token | everything before it) for each token that has a predecessor (with no
 * embedding rows the first token has none), concatenated; counts (n entries, may be NULL)
 * receives how many values belong to each sequence. */
SCI_INFER_API int sci_infer_score(sci_infer_engine* engine, const sci_infer_input* input, float* logprobs,
                                  int64_t capacity, int64_t* required, int32_t* counts);
/* tokens (and logprobs, which may be NULL): n x max_new_tokens, row i holds counts[i] generated
 * ids (fewer than max_new_tokens when the model stopped). params may be NULL (defaults); counts
 * (n entries) is required. */
SCI_INFER_API int sci_infer_generate(sci_infer_engine* engine, const sci_infer_input* input,
                                     const sci_infer_generate_params* params, int32_t* tokens, float* logprobs,
                                     int64_t capacity, int64_t* required, int32_t* counts);

#ifdef __cplusplus
}
#endif

#endif /* SCI_INFER_SCI_INFER_H */
