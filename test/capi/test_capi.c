/* Every function of the C API (include/sci_infer/sci_infer.h) and every documented misuse:
 * each must return the documented status with a non-empty message that names the problem.
 *
 *   mpiexec -n 2 test_capi model.gguf   engines on MPI_COMM_WORLD, data parallel checks
 *   test_capi --outside-mpi             create before MPI_Init and after MPI_Finalize
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sci_infer/sci_infer.h>

static int g_rank = 0;
static int g_checks = 0;
static int g_failures = 0;

#define CHECK(cond)                                                                         \
  do {                                                                                      \
    ++g_checks;                                                                             \
    if (!(cond)) {                                                                          \
      fprintf(stderr, "rank %d: %s:%d: CHECK(%s) failed\n", g_rank, __FILE__, __LINE__, #cond); \
      ++g_failures;                                                                         \
    }                                                                                       \
  } while (0)

/* The call returned `expected`; on failure the handle's message (and the thread's, which must be
 * the same text) is non-empty and contains `needle`. */
static void expect(int got, int expected, const sci_infer_engine* h, const char* needle, int line) {
  const char* msg = sci_infer_last_error(h);
  ++g_checks;
  if (got != expected) {
    fprintf(stderr, "rank %d: line %d: got %s, expected %s (message: \"%s\")\n", g_rank, line,
            sci_infer_status_name(got), sci_infer_status_name(expected), msg);
    ++g_failures;
    return;
  }
  if (expected == SCI_INFER_OK) return;
  if (msg == NULL || msg[0] == '\0' || (needle != NULL && strstr(msg, needle) == NULL) ||
      strcmp(msg, sci_infer_last_error(NULL)) != 0) {
    fprintf(stderr, "rank %d: line %d: message \"%s\" should contain \"%s\" (thread message \"%s\")\n", g_rank,
            line, msg ? msg : "(null)", needle ? needle : "", sci_infer_last_error(NULL));
    ++g_failures;
  }
}
#define EXPECT(call, status, h, needle) expect((call), (status), (h), (needle), __LINE__)

static int all_finite(const float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!isfinite(v[i])) return 0;
  return 1;
}

static int all_nan(const float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!isnan(v[i])) return 0;
  return 1;
}

/* The same bytes on every rank of MPI_COMM_WORLD (rank 0's are broadcast and compared). */
static int same_on_all_ranks(const void* data, int bytes) {
  char* copy = malloc(bytes);
  memcpy(copy, data, bytes);
  MPI_Bcast(copy, bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
  int same = memcmp(copy, data, bytes) == 0, all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  free(copy);
  return all;
}

static void test_static_functions(void) {
  CHECK(strlen(sci_infer_version()) > 0);
  CHECK(strncmp(sci_infer_kokkos(), "Kokkos ", 7) == 0 && strchr(sci_infer_kokkos(), '/') != NULL);
  CHECK(strlen(sci_infer_device()) > 0);
  for (int s = SCI_INFER_OK; s <= SCI_INFER_ERR_INTERNAL; ++s) CHECK(strncmp(sci_infer_status_name(s), "SCI_INFER_", 10) == 0);
  CHECK(strstr(sci_infer_status_name(99), "unknown") != NULL);
  sci_infer_options o;
  sci_infer_options_init(&o);
  CHECK(o.device == SCI_INFER_DEVICE_AUTO);
  CHECK(o.struct_size == (int32_t)sizeof o && o.kv_cache_mb == 1024 && o.max_batch >= 1 && strcmp(o.gemm, "fixed") == 0);
  sci_infer_options_init(NULL); /* no crash */
  sci_infer_generate_params p;
  sci_infer_generate_params_init(&p);
  CHECK(p.max_new_tokens == 16 && p.temperature == 0.0f && p.top_p == 1.0f);
  sci_infer_generate_params_init(NULL);
}

/* Each bad options struct, bad path and bad argument fails on every rank with the same status. */
static void test_create_errors(const char* model) {
  sci_infer_engine* e = (sci_infer_engine*)0x1;
  EXPECT(sci_infer_engine_create("/nonexistent/dir/model.gguf", NULL, MPI_COMM_WORLD, &e), SCI_INFER_ERR_LOAD, NULL,
         "/nonexistent/dir/model.gguf");
  CHECK(e == NULL);

  /* A file that is not GGUF. */
  char junk[64];
  snprintf(junk, sizeof junk, "capi_junk_rank%d.gguf", g_rank);
  FILE* f = fopen(junk, "w");
  fputs("this is not a GGUF file\n", f);
  fclose(f);
  /* Every rank reports the lowest failing rank's message: rank 0's file. */
  EXPECT(sci_infer_engine_create(junk, NULL, MPI_COMM_WORLD, &e), SCI_INFER_ERR_LOAD, NULL,
         "capi_junk_rank0.gguf: not a GGUF file");
  remove(junk);

  /* A failure on one rank only is reported on every rank, with that rank's message. */
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) {
    const char* path = g_rank == 1 ? "/nonexistent/only-on-rank-1.gguf" : model;
    EXPECT(sci_infer_engine_create(path, NULL, MPI_COMM_WORLD, &e), SCI_INFER_ERR_LOAD, NULL, "rank 1");
    CHECK(e == NULL);
    CHECK(strstr(sci_infer_last_error(NULL), "only-on-rank-1") != NULL);
    sci_infer_options o;
    sci_infer_options_init(&o);
    if (g_rank == 1) o.threads = -3;
    EXPECT(sci_infer_engine_create(model, &o, MPI_COMM_WORLD, &e), SCI_INFER_ERR_ARGUMENT, NULL, "threads");
    CHECK(e == NULL);
  }

  EXPECT(sci_infer_engine_create(NULL, NULL, MPI_COMM_WORLD, &e), SCI_INFER_ERR_ARGUMENT, NULL, "model_path");
  EXPECT(sci_infer_engine_create(model, NULL, MPI_COMM_WORLD, NULL), SCI_INFER_ERR_ARGUMENT, NULL, "engine");
  EXPECT(sci_infer_engine_create(model, NULL, MPI_COMM_NULL, &e), SCI_INFER_ERR_MPI, NULL, "MPI_COMM_NULL");
  EXPECT(sci_infer_engine_create_f(model, NULL, MPI_Comm_c2f(MPI_COMM_NULL), &e), SCI_INFER_ERR_MPI, NULL,
         "MPI_COMM_NULL");
  CHECK(strstr(sci_infer_last_error(NULL), "sci_infer_engine_create_f") != NULL);

  struct {
    const char* field;
    int value;
  } bad[] = {{"threads", -1}, {"kv_cache_mb", 0}, {"max_batch", 0}, {"max_step_tokens", -2}, {"pooling", 7},
             /* Upper bounds: 100000 threads crashed libgomp; a KV budget beyond physical memory. */
             {"threads", 100000}, {"kv_cache_mb", INT32_MAX}, {"max_batch", 1 << 30}, {"max_step_tokens", 1 << 30},
             {"device", -2}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    sci_infer_options o;
    sci_infer_options_init(&o);
    if (strcmp(bad[i].field, "threads") == 0) o.threads = bad[i].value;
    if (strcmp(bad[i].field, "kv_cache_mb") == 0) o.kv_cache_mb = bad[i].value;
    if (strcmp(bad[i].field, "max_batch") == 0) o.max_batch = bad[i].value;
    if (strcmp(bad[i].field, "max_step_tokens") == 0) o.max_step_tokens = bad[i].value;
    if (strcmp(bad[i].field, "pooling") == 0) o.pooling = bad[i].value;
    if (strcmp(bad[i].field, "device") == 0) o.device = bad[i].value;
    EXPECT(sci_infer_engine_create(model, &o, MPI_COMM_WORLD, &e), SCI_INFER_ERR_ARGUMENT, NULL, bad[i].field);
  }
  sci_infer_options o;
  memset(&o, 0, sizeof o); /* never initialised */
  EXPECT(sci_infer_engine_create(model, &o, MPI_COMM_WORLD, &e), SCI_INFER_ERR_ARGUMENT, NULL,
         "sci_infer_options_init");
  sci_infer_options_init(&o);
  strcpy(o.gemm, "blas");
  EXPECT(sci_infer_engine_create(model, &o, MPI_COMM_WORLD, &e), SCI_INFER_ERR_ARGUMENT, NULL, "blas");
  memset(o.gemm, 'x', sizeof o.gemm);
  EXPECT(sci_infer_engine_create(model, &o, MPI_COMM_WORLD, &e), SCI_INFER_ERR_ARGUMENT, NULL, "NUL-terminated");
#ifndef SCI_INFER_TEST_HAVE_CUDA
  strcpy(o.gemm, "cublas");
  EXPECT(sci_infer_engine_create(model, &o, MPI_COMM_WORLD, &e), SCI_INFER_ERR_ARGUMENT, NULL, "CUDA");
#endif
  /* A KV cache too small for even one page still builds; the request then fails (below). */
}

static void test_dims(sci_infer_engine* e) {
  int32_t v = 0, d = 0, c = 0;
  EXPECT(sci_infer_engine_dims(e, &v, &d, &c), SCI_INFER_OK, e, NULL);
  CHECK(v == 512 && d == 64 && c == 256); /* the tiny preset */
  EXPECT(sci_infer_engine_dims(e, NULL, NULL, NULL), SCI_INFER_OK, e, NULL);
  CHECK(sci_infer_last_error(e)[0] == '\0'); /* cleared by a successful call */
}

static void test_text(sci_infer_engine* e) {
  const char* text = "The ocean";
  int64_t need = -1;
  EXPECT(sci_infer_tokenize(e, text, -1, 1, NULL, 0, &need), SCI_INFER_OK, e, NULL);
  CHECK(need >= 2);
  int32_t ids[64];
  int64_t req = -1;
  EXPECT(sci_infer_tokenize(e, text, -1, 1, ids, 1, &req), SCI_INFER_ERR_BUFFER_TOO_SMALL, e, "needed");
  CHECK(req == need);
  CHECK(strstr(sci_infer_last_error(e), "sci_infer_tokenize") != NULL);
  EXPECT(sci_infer_tokenize(e, text, (int64_t)strlen(text), 1, ids, 64, &req), SCI_INFER_OK, e, NULL);
  CHECK(req == need);
  EXPECT(sci_infer_tokenize(e, text, -1, 1, ids, -4, &req), SCI_INFER_ERR_ARGUMENT, e, "capacity");
  EXPECT(sci_infer_tokenize(e, text, -1, 1, NULL, 0, NULL), SCI_INFER_ERR_ARGUMENT, e, "required");
  EXPECT(sci_infer_tokenize(e, text, -1, 1, NULL, 8, &req), SCI_INFER_ERR_ARGUMENT, e, "ids is NULL");
  EXPECT(sci_infer_tokenize(e, NULL, 5, 1, ids, 64, &req), SCI_INFER_ERR_ARGUMENT, e, "text is NULL");

  char out[64];
  int64_t text_need = -1;
  EXPECT(sci_infer_detokenize(e, ids, need, NULL, 0, &text_need), SCI_INFER_OK, e, NULL);
  CHECK(text_need == (int64_t)strlen(text) + 1);
  EXPECT(sci_infer_detokenize(e, ids, need, out, 3, &req), SCI_INFER_ERR_BUFFER_TOO_SMALL, e, "needed");
  CHECK(req == text_need);
  EXPECT(sci_infer_detokenize(e, ids, need, out, sizeof out, &req), SCI_INFER_OK, e, NULL);
  CHECK(strcmp(out, text) == 0);
  int32_t bad_ids[2] = {5, 99999};
  EXPECT(sci_infer_detokenize(e, bad_ids, 2, out, sizeof out, &req), SCI_INFER_ERR_ARGUMENT, e, "ids[1] is 99999");
  EXPECT(sci_infer_detokenize(e, ids, -1, out, sizeof out, &req), SCI_INFER_ERR_ARGUMENT, e, "n_ids");
  EXPECT(sci_infer_detokenize(e, NULL, 3, out, sizeof out, &req), SCI_INFER_ERR_ARGUMENT, e, "ids is NULL");
}

enum { D = 64 };

static void fill_vectors(float* v, int rows, float scale) {
  for (int i = 0; i < rows * D; ++i) v[i] = scale * (float)((i * 7) % 23 - 11);
}

static void test_embed(sci_infer_engine* a, sci_infer_engine* b) {
  float vectors[5 * D], out[2 * D], out_b[2 * D];
  fill_vectors(vectors, 5, 0.01f);
  const int32_t rows[2] = {3, 2};
  sci_infer_input in;
  memset(&in, 0, sizeof in);
  in.n = 2;
  in.embeddings = vectors;
  in.embedding_rows = rows;
  int64_t req = -1;
  EXPECT(sci_infer_embed(a, &in, NULL, 0, &req), SCI_INFER_OK, a, NULL);
  CHECK(req == 2 * D);
  EXPECT(sci_infer_embed(a, &in, out, 2 * D - 1, &req), SCI_INFER_ERR_BUFFER_TOO_SMALL, a, "128");
  CHECK(req == 2 * D);
  EXPECT(sci_infer_embed(a, &in, out, 2 * D, &req), SCI_INFER_OK, a, NULL);
  CHECK(all_finite(out, 2 * D));
  CHECK(memcmp(out, out + D, D * sizeof(float)) != 0);
  /* Two engines in one process (different threads, batch limits) give the same bits, and so does
   * every rank (data parallel: each ran the batch it was given). */
  EXPECT(sci_infer_embed(b, &in, out_b, 2 * D, NULL), SCI_INFER_OK, b, NULL);
  CHECK(memcmp(out, out_b, sizeof out) == 0);
  CHECK(same_on_all_ranks(out, sizeof out));

  /* Text is tokenized like sci_infer_tokenize(.., add_special = 1). */
  const char* texts = "temperature fieldpressure";
  const int32_t lengths[2] = {17, 8};
  sci_infer_input tin;
  memset(&tin, 0, sizeof tin);
  tin.n = 2;
  tin.text = texts;
  tin.text_lengths = lengths;
  float from_text[2 * D], from_ids[2 * D];
  EXPECT(sci_infer_embed(a, &tin, from_text, 2 * D, &req), SCI_INFER_OK, a, NULL);
  int32_t ids[64], counts[2];
  int64_t n0 = 0, n1 = 0;
  EXPECT(sci_infer_tokenize(a, "temperature field", -1, 1, ids, 64, &n0), SCI_INFER_OK, a, NULL);
  EXPECT(sci_infer_tokenize(a, "pressure", -1, 1, ids + n0, 64 - n0, &n1), SCI_INFER_OK, a, NULL);
  counts[0] = (int32_t)n0;
  counts[1] = (int32_t)n1;
  sci_infer_input kin;
  memset(&kin, 0, sizeof kin);
  kin.n = 2;
  kin.tokens = ids;
  kin.token_counts = counts;
  EXPECT(sci_infer_embed(a, &kin, from_ids, 2 * D, &req), SCI_INFER_OK, a, NULL);
  CHECK(memcmp(from_text, from_ids, sizeof from_ids) == 0);

  /* Embedding rows then tokens in one sequence. */
  sci_infer_input mixed = kin;
  const int32_t mixed_rows[2] = {1, 0};
  mixed.embeddings = vectors;
  mixed.embedding_rows = mixed_rows;
  EXPECT(sci_infer_embed(a, &mixed, out, 2 * D, &req), SCI_INFER_OK, a, NULL);
  CHECK(memcmp(out, from_ids, D * sizeof(float)) != 0 && memcmp(out + D, from_ids + D, D * sizeof(float)) == 0);

  /* Bad inputs: every one named. */
  EXPECT(sci_infer_embed(a, NULL, out, 2 * D, &req), SCI_INFER_ERR_ARGUMENT, a, "input is NULL");
  sci_infer_input bad = kin;
  bad.n = -1;
  EXPECT(sci_infer_embed(a, &bad, out, 2 * D, &req), SCI_INFER_ERR_ARGUMENT, a, "input->n");
  bad = kin;
  bad.text = texts;
  bad.text_lengths = lengths;
  EXPECT(sci_infer_embed(a, &bad, out, 2 * D, &req), SCI_INFER_ERR_ARGUMENT, a, "both tokens and text");
  bad = kin;
  bad.token_counts = NULL;
  EXPECT(sci_infer_embed(a, &bad, out, 2 * D, &req), SCI_INFER_ERR_ARGUMENT, a, "token_counts is NULL");
  bad = kin;
  bad.tokens = NULL;
  EXPECT(sci_infer_embed(a, &bad, out, 2 * D, &req), SCI_INFER_ERR_ARGUMENT, a, "tokens is NULL");
  const int32_t negative[2] = {2, -1};
  bad = kin;
  bad.token_counts = negative;
  EXPECT(sci_infer_embed(a, &bad, out, 2 * D, &req), SCI_INFER_ERR_ARGUMENT, a, "token_counts[1] is -1");
  memset(&bad, 0, sizeof bad);
  bad.n = 1;
  EXPECT(sci_infer_embed(a, &bad, out, 2 * D, &req), SCI_INFER_ERR_ARGUMENT, a, "no tokens, text or embeddings");
  EXPECT(sci_infer_embed(a, &kin, NULL, 5, &req), SCI_INFER_ERR_ARGUMENT, a, "vectors is NULL");

  /* A bad sequence fails the call, not the batch: the good one's result is written. */
  int32_t with_bad[4] = {ids[0], ids[1], 9999, ids[1]};
  const int32_t with_bad_counts[2] = {2, 2};
  sci_infer_input partial;
  memset(&partial, 0, sizeof partial);
  partial.n = 2;
  partial.tokens = with_bad;
  partial.token_counts = with_bad_counts;
  EXPECT(sci_infer_embed(a, &partial, out, 2 * D, &req), SCI_INFER_ERR_REQUEST, a, "sequence 1 (id 1)");
  CHECK(strstr(sci_infer_last_error(a), "outside the vocabulary") != NULL);
  CHECK(all_finite(out, D) && all_nan(out + D, D));

  /* Longer than the context. */
  static int32_t long_ids[300];
  for (int i = 0; i < 300; ++i) long_ids[i] = 3 + i % 200;
  const int32_t long_count[1] = {300};
  sci_infer_input too_long;
  memset(&too_long, 0, sizeof too_long);
  too_long.n = 1;
  too_long.tokens = long_ids;
  too_long.token_counts = long_count;
  EXPECT(sci_infer_embed(a, &too_long, out, D, &req), SCI_INFER_ERR_REQUEST, a, "context");

  /* Counts are checked before any data is read: a count far past the caller's 4-id buffer (more
   * positions than the context) fails that sequence unread, even in a size query; counts that add
   * up past INT32_MAX fail the call. (Both read far out of bounds before.) */
  static const int32_t four_ids[4] = {1, 2, 3, 4};
  const int32_t huge_count[2] = {2, 1 << 30};
  sci_infer_input wrong;
  memset(&wrong, 0, sizeof wrong);
  wrong.n = 2;
  wrong.tokens = four_ids;
  wrong.token_counts = huge_count;
  req = -1;
  EXPECT(sci_infer_embed(a, &wrong, NULL, 0, &req), SCI_INFER_OK, a, NULL);
  CHECK(req == 2 * D);
  EXPECT(sci_infer_embed(a, &wrong, out, 2 * D, &req), SCI_INFER_ERR_REQUEST, a, "sequence 1 (id 1)");
  CHECK(strstr(sci_infer_last_error(a), "more than the model context") != NULL);
  CHECK(all_finite(out, D) && all_nan(out + D, D));
  int64_t score_need = -1;
  EXPECT(sci_infer_score(a, &wrong, NULL, 0, &score_need, NULL), SCI_INFER_OK, a, NULL);
  CHECK(score_need == 1 + ((1 << 30) - 1));
  const int32_t overflow_counts[2] = {INT32_MAX, INT32_MAX};
  wrong.token_counts = overflow_counts;
  EXPECT(sci_infer_embed(a, &wrong, NULL, 0, &req), SCI_INFER_ERR_ARGUMENT, a, "INT32_MAX");
  EXPECT(sci_infer_score(a, &wrong, NULL, 0, &req, NULL), SCI_INFER_ERR_ARGUMENT, a, "INT32_MAX");
  EXPECT(sci_infer_generate(a, &wrong, NULL, NULL, NULL, 0, &req, NULL), SCI_INFER_ERR_ARGUMENT, a, "INT32_MAX");
  const int32_t huge_rows[1] = {1 << 28};
  sci_infer_input wrong_rows;
  memset(&wrong_rows, 0, sizeof wrong_rows);
  wrong_rows.n = 1;
  wrong_rows.embeddings = vectors;
  wrong_rows.embedding_rows = huge_rows;
  EXPECT(sci_infer_embed(a, &wrong_rows, out, D, &req), SCI_INFER_ERR_REQUEST, a, "context");

  /* An empty batch is fine. */
  sci_infer_input empty;
  memset(&empty, 0, sizeof empty);
  EXPECT(sci_infer_embed(a, &empty, out, 0, &req), SCI_INFER_OK, a, NULL);
  CHECK(req == 0);
}

static void test_score(sci_infer_engine* e) {
  const int32_t ids[8] = {1, 40, 41, 42, 43, 1, 50, 51};
  const int32_t counts[2] = {5, 3};
  sci_infer_input in;
  memset(&in, 0, sizeof in);
  in.n = 2;
  in.tokens = ids;
  in.token_counts = counts;
  float lp[8];
  int32_t per_seq[2] = {-9, -9};
  int64_t req = -1;
  EXPECT(sci_infer_score(e, &in, NULL, 0, &req, NULL), SCI_INFER_OK, e, NULL);
  CHECK(req == 6);
  EXPECT(sci_infer_score(e, &in, lp, 5, &req, per_seq), SCI_INFER_ERR_BUFFER_TOO_SMALL, e, "6 are needed");
  EXPECT(sci_infer_score(e, &in, lp, 8, &req, per_seq), SCI_INFER_OK, e, NULL);
  CHECK(per_seq[0] == 4 && per_seq[1] == 2);
  CHECK(all_finite(lp, 6));
  for (int i = 0; i < 6; ++i) CHECK(lp[i] <= 0.0f);
  CHECK(same_on_all_ranks(lp, 6 * sizeof(float)));

  /* With embedding rows, every token has a predecessor. */
  float vectors[2 * D];
  fill_vectors(vectors, 2, 0.02f);
  const int32_t rows[1] = {2};
  const int32_t three[1] = {3};
  sci_infer_input emb;
  memset(&emb, 0, sizeof emb);
  emb.n = 1;
  emb.tokens = ids + 1;
  emb.token_counts = three;
  emb.embeddings = vectors;
  emb.embedding_rows = rows;
  EXPECT(sci_infer_score(e, &emb, lp, 8, &req, per_seq), SCI_INFER_OK, e, NULL);
  CHECK(req == 3 && per_seq[0] == 3 && all_finite(lp, 3));

  /* A one-token sequence cannot be scored; the other one still is. */
  const int32_t short_counts[2] = {3, 1};
  sci_infer_input partial = in;
  partial.token_counts = short_counts;
  EXPECT(sci_infer_score(e, &partial, lp, 8, &req, per_seq), SCI_INFER_ERR_REQUEST, e, "sequence 1");
  CHECK(req == 2 && per_seq[0] == 2 && per_seq[1] == 0 && all_finite(lp, 2));
}

static void test_generate(sci_infer_engine* e) {
  const char* prompts = "The oceanA storm";
  const int32_t lengths[2] = {9, 7};
  sci_infer_input in;
  memset(&in, 0, sizeof in);
  in.n = 2;
  in.text = prompts;
  in.text_lengths = lengths;
  in.first_id = 100;
  sci_infer_generate_params p;
  sci_infer_generate_params_init(&p);
  p.max_new_tokens = 6;
  int32_t tokens[12], tokens2[12], counts[2], counts2[2];
  float lp[12];
  int64_t req = -1;
  EXPECT(sci_infer_generate(e, &in, &p, NULL, NULL, 0, &req, NULL), SCI_INFER_OK, e, NULL);
  CHECK(req == 12);
  EXPECT(sci_infer_generate(e, &in, &p, tokens, lp, 11, &req, counts), SCI_INFER_ERR_BUFFER_TOO_SMALL, e,
         "max_new_tokens 6");
  EXPECT(sci_infer_generate(e, &in, &p, tokens, lp, 12, &req, NULL), SCI_INFER_ERR_ARGUMENT, e, "counts is NULL");
  EXPECT(sci_infer_generate(e, &in, &p, tokens, lp, 12, &req, counts), SCI_INFER_OK, e, NULL);
  for (int i = 0; i < 2; ++i) {
    CHECK(counts[i] >= 1 && counts[i] <= 6);
    CHECK(all_finite(lp + 6 * i, counts[i]));
    char text[256];
    int64_t n = 0;
    EXPECT(sci_infer_detokenize(e, tokens + 6 * i, counts[i], text, sizeof text, &n), SCI_INFER_OK, e, NULL);
  }
  /* Sampled generation is keyed by (seed, record id): the same on every rank and every run. */
  p.temperature = 0.9f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.seed = 7;
  EXPECT(sci_infer_generate(e, &in, &p, tokens, NULL, 12, &req, counts), SCI_INFER_OK, e, NULL);
  EXPECT(sci_infer_generate(e, &in, &p, tokens2, NULL, 12, &req, counts2), SCI_INFER_OK, e, NULL);
  CHECK(memcmp(counts, counts2, sizeof counts) == 0 && memcmp(tokens, tokens2, counts[0] * sizeof(int32_t)) == 0);
  CHECK(same_on_all_ranks(counts, sizeof counts));
  CHECK(same_on_all_ranks(tokens, counts[0] * sizeof(int32_t)));
  /* NULL params: the defaults (16 new tokens). */
  EXPECT(sci_infer_generate(e, &in, NULL, NULL, NULL, 0, &req, NULL), SCI_INFER_OK, e, NULL);
  CHECK(req == 32);

  sci_infer_generate_params bad = p;
  bad.max_new_tokens = -1;
  EXPECT(sci_infer_generate(e, &in, &bad, tokens, NULL, 12, &req, counts), SCI_INFER_ERR_ARGUMENT, e, "max_new_tokens");
  bad = p;
  bad.temperature = -0.5f;
  EXPECT(sci_infer_generate(e, &in, &bad, tokens, NULL, 12, &req, counts), SCI_INFER_ERR_ARGUMENT, e, "temperature");
  bad = p;
  bad.top_k = -1;
  EXPECT(sci_infer_generate(e, &in, &bad, tokens, NULL, 12, &req, counts), SCI_INFER_ERR_ARGUMENT, e, "top_k");
  bad = p;
  bad.top_p = 0.0f;
  EXPECT(sci_infer_generate(e, &in, &bad, tokens, NULL, 12, &req, counts), SCI_INFER_ERR_ARGUMENT, e, "top_p");

  /* A failed sequence has count -1 and NaN log-probabilities. */
  const int32_t ids[3] = {1, 700, 1};
  const int32_t id_counts[2] = {2, 1};
  sci_infer_input partial;
  memset(&partial, 0, sizeof partial);
  partial.n = 2;
  partial.tokens = ids;
  partial.token_counts = id_counts;
  p.temperature = 0.0f;
  EXPECT(sci_infer_generate(e, &partial, &p, tokens, lp, 12, &req, counts), SCI_INFER_ERR_REQUEST, e, "sequence 0");
  CHECK(counts[0] == -1 && counts[1] >= 1 && all_nan(lp, 6));
}

/* Non-default options reach the engine: a 1 MiB KV cache (128 pages of the tiny model) still
 * runs a 250-token sequence, and last-position pooling differs from mean pooling. */
static void test_options(const char* model, sci_infer_engine* mean_engine) {
  sci_infer_options o;
  sci_infer_options_init(&o);
  o.kv_cache_mb = 1;
  o.threads = 1;
  o.pooling = SCI_INFER_POOLING_LAST;
  strcpy(o.gemm, "kokkos");
  sci_infer_engine* e = NULL;
  EXPECT(sci_infer_engine_create(model, &o, MPI_COMM_WORLD, &e), SCI_INFER_OK, NULL, NULL);
  if (e == NULL) return;
  static int32_t ids[250];
  for (int i = 0; i < 250; ++i) ids[i] = 3 + i % 300;
  const int32_t count[1] = {250};
  sci_infer_input in;
  memset(&in, 0, sizeof in);
  in.n = 1;
  in.tokens = ids;
  in.token_counts = count;
  float last[D], mean[D];
  EXPECT(sci_infer_embed(e, &in, last, D, NULL), SCI_INFER_OK, e, NULL);
  EXPECT(sci_infer_embed(mean_engine, &in, mean, D, NULL), SCI_INFER_OK, mean_engine, NULL);
  CHECK(all_finite(last, D) && memcmp(last, mean, sizeof last) != 0);
  EXPECT(sci_infer_engine_destroy(e), SCI_INFER_OK, e, NULL);
}

/* Every entry point with a NULL handle, and with a pointer to something that is not an engine. */
static void test_bad_handles(void) {
  sci_infer_input in;
  memset(&in, 0, sizeof in);
  float f[4];
  int32_t i32[4];
  char text[8];
  int64_t req;
  uint64_t not_an_engine[32]; /* zeros: no magic number */
  memset(not_an_engine, 0, sizeof not_an_engine);
  sci_infer_engine* handles[2] = {NULL, (sci_infer_engine*)not_an_engine};
  const char* needles[2] = {"NULL", "not a sci_infer engine"};
  for (int k = 0; k < 2; ++k) {
    sci_infer_engine* h = handles[k];
    const char* why = needles[k];
    EXPECT(sci_infer_engine_close(h), SCI_INFER_ERR_HANDLE, h, why);
    EXPECT(sci_infer_engine_destroy(h), SCI_INFER_ERR_HANDLE, h, why);
    EXPECT(sci_infer_engine_dims(h, i32, i32, i32), SCI_INFER_ERR_HANDLE, h, why);
    EXPECT(sci_infer_tokenize(h, "x", -1, 1, i32, 4, &req), SCI_INFER_ERR_HANDLE, h, why);
    EXPECT(sci_infer_detokenize(h, i32, 0, text, 8, &req), SCI_INFER_ERR_HANDLE, h, why);
    EXPECT(sci_infer_embed(h, &in, f, 4, &req), SCI_INFER_ERR_HANDLE, h, "sci_infer_embed");
    EXPECT(sci_infer_score(h, &in, f, 4, &req, i32), SCI_INFER_ERR_HANDLE, h, why);
    EXPECT(sci_infer_generate(h, &in, NULL, i32, f, 4, &req, i32), SCI_INFER_ERR_HANDLE, h, why);
  }
}

/* Closed: only destroy remains. Destroyed: everything is reported, including a second destroy. */
static void test_close_and_destroy(sci_infer_engine* e) {
  sci_infer_input in;
  memset(&in, 0, sizeof in);
  float f[4];
  int32_t i32[4];
  char text[8];
  int64_t req;
  EXPECT(sci_infer_engine_close(e), SCI_INFER_OK, e, NULL);
  EXPECT(sci_infer_engine_close(e), SCI_INFER_ERR_CLOSED, e, "closed");
  EXPECT(sci_infer_engine_dims(e, i32, i32, i32), SCI_INFER_ERR_CLOSED, e, "closed");
  EXPECT(sci_infer_tokenize(e, "x", -1, 1, i32, 4, &req), SCI_INFER_ERR_CLOSED, e, "closed");
  EXPECT(sci_infer_detokenize(e, i32, 0, text, 8, &req), SCI_INFER_ERR_CLOSED, e, "closed");
  EXPECT(sci_infer_embed(e, &in, f, 4, &req), SCI_INFER_ERR_CLOSED, e, "closed");
  EXPECT(sci_infer_score(e, &in, f, 4, &req, i32), SCI_INFER_ERR_CLOSED, e, "closed");
  EXPECT(sci_infer_generate(e, &in, NULL, i32, f, 4, &req, i32), SCI_INFER_ERR_CLOSED, e, "closed");
  EXPECT(sci_infer_engine_destroy(e), SCI_INFER_OK, e, NULL);
  EXPECT(sci_infer_engine_destroy(e), SCI_INFER_ERR_HANDLE, e, "destroyed");
  EXPECT(sci_infer_engine_close(e), SCI_INFER_ERR_HANDLE, e, "destroyed");
  EXPECT(sci_infer_engine_dims(e, i32, i32, i32), SCI_INFER_ERR_HANDLE, e, "destroyed");
  EXPECT(sci_infer_tokenize(e, "x", -1, 1, i32, 4, &req), SCI_INFER_ERR_HANDLE, e, "destroyed");
  EXPECT(sci_infer_detokenize(e, i32, 0, text, 8, &req), SCI_INFER_ERR_HANDLE, e, "destroyed");
  EXPECT(sci_infer_embed(e, &in, f, 4, &req), SCI_INFER_ERR_HANDLE, e, "destroyed");
  EXPECT(sci_infer_score(e, &in, f, 4, &req, i32), SCI_INFER_ERR_HANDLE, e, "destroyed");
  EXPECT(sci_infer_generate(e, &in, NULL, i32, f, 4, &req, i32), SCI_INFER_ERR_HANDLE, e, "destroyed");
}

/* Without MPI (before MPI_Init, after MPI_Finalize) create fails cleanly. */
static int run_outside_mpi(void) {
  sci_infer_engine* e = (sci_infer_engine*)0x1;
  EXPECT(sci_infer_engine_create("m.gguf", NULL, MPI_COMM_WORLD, &e), SCI_INFER_ERR_MPI, NULL, "MPI_Init");
  CHECK(e == NULL);
  EXPECT(sci_infer_engine_create_f("m.gguf", NULL, 0, &e), SCI_INFER_ERR_MPI, NULL, "MPI_Init");
  MPI_Init(NULL, NULL);
  MPI_Finalize();
  EXPECT(sci_infer_engine_create("m.gguf", NULL, MPI_COMM_WORLD, &e), SCI_INFER_ERR_MPI, NULL, "finalised");
  printf("capi outside MPI: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--outside-mpi") == 0) return run_outside_mpi();
  if (argc != 2) {
    fprintf(stderr, "usage: %s model.gguf | --outside-mpi\n", argv[0]);
    return 2;
  }
  const char* model = argv[1];
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);

  test_static_functions();
  test_create_errors(model);
  test_bad_handles();

  sci_infer_engine *a = NULL, *b = NULL;
  EXPECT(sci_infer_engine_create(model, NULL, MPI_COMM_WORLD, &a), SCI_INFER_OK, NULL, NULL);
  sci_infer_options o;
  sci_infer_options_init(&o);
  o.threads = 1;
  o.max_batch = 1;
  o.max_step_tokens = 3;
  EXPECT(sci_infer_engine_create_f(model, &o, MPI_Comm_c2f(MPI_COMM_WORLD), &b), SCI_INFER_OK, NULL, NULL);
  if (a != NULL && b != NULL) {
    test_dims(a);
    test_text(a);
    test_embed(a, b);
    test_score(a);
    test_generate(a);
    test_options(model, a);
    test_close_and_destroy(b);
    EXPECT(sci_infer_engine_destroy(a), SCI_INFER_OK, a, NULL);
    EXPECT(sci_infer_engine_dims(a, NULL, NULL, NULL), SCI_INFER_ERR_HANDLE, a, "destroyed");
  }

  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (g_rank == 0) printf("capi: %d checks per rank, %d failed on all ranks\n", g_checks, failures);
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}
