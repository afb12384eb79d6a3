! Fortran bindings for the sci_infer C API (include/sci_infer/sci_infer.h), through iso_c_binding.
!
!   use sci_infer
!   type(sci_infer_engine) :: engine
!   call sci_infer_create(engine, "m.gguf", MPI_COMM_WORLD, ierr)       ! collective
!   call sci_infer_embed(engine, vectors, rows, out, ierr)              ! out(d_model, n)
!   if (ierr /= SCI_INFER_OK) print *, sci_infer_last_error(engine)
!   call sci_infer_destroy(engine, ierr)
!
! Every routine ends with `ierr` (a SCI_INFER_* status), MPI style. Arrays are passed to C without
! copies: inputs and outputs must be contiguous. The communicator is a Fortran handle (an integer
! from `use mpi`, or comm%MPI_VAL with mpi_f08), so this module does not depend on an MPI module.
! Output sizes come from the arrays themselves: an array that is too small gives
! SCI_INFER_ERR_BUFFER_TOO_SMALL with the message saying how many elements are needed.
module sci_infer
  use, intrinsic :: iso_c_binding
  implicit none
  private

  integer, parameter, public :: SCI_INFER_OK = 0, SCI_INFER_ERR_HANDLE = 1, SCI_INFER_ERR_CLOSED = 2, &
                                SCI_INFER_ERR_ARGUMENT = 3, SCI_INFER_ERR_BUFFER_TOO_SMALL = 4, &
                                SCI_INFER_ERR_LOAD = 5, SCI_INFER_ERR_MPI = 6, SCI_INFER_ERR_REQUEST = 7, &
                                SCI_INFER_ERR_INTERNAL = 8
  integer(c_int32_t), parameter, public :: SCI_INFER_POOLING_MEAN = 0, SCI_INFER_POOLING_LAST = 1
  integer(c_int32_t), parameter, public :: SCI_INFER_REDUCTION_DETERMINISTIC = 0, SCI_INFER_REDUCTION_FAST = 1
  integer(c_int32_t), parameter, public :: SCI_INFER_DEVICE_AUTO = -1

  ! sci_infer_options; initialise with sci_infer_options_init before changing fields.
  type, bind(c), public :: sci_infer_options
    integer(c_int32_t) :: struct_size, threads, kv_cache_mb, max_batch, max_step_tokens, pooling
    character(kind=c_char) :: gemm(16)
    integer(c_int32_t) :: tensor_parallel, reduction  ! see sci_infer.h
    integer(c_int32_t) :: device  ! GPU of this rank: SCI_INFER_DEVICE_AUTO (-1, default) or an index >= 0
  end type

  ! An engine handle. A default-initialised one is NULL (every call on it returns SCI_INFER_ERR_HANDLE).
  type, public :: sci_infer_engine
    private
    type(c_ptr) :: handle = c_null_ptr
  end type

  ! The address given to C for an empty output array: never written (its capacity is 0), but not
  ! NULL, because NULL with capacity 0 is the C API's size query, which returns without running.
  real(c_float), target, save :: empty_floats(1)
  integer(c_int32_t), target, save :: empty_ints(1)

  ! sci_infer_input and sci_infer_generate_params, filled by the wrappers below.
  type, bind(c) :: c_input
    integer(c_int32_t) :: n = 0
    integer(c_int64_t) :: first_id = 0  ! uint64_t in C
    type(c_ptr) :: tokens = c_null_ptr, token_counts = c_null_ptr, text = c_null_ptr, &
                   text_lengths = c_null_ptr, embeddings = c_null_ptr, embedding_rows = c_null_ptr
  end type
  type, bind(c) :: c_generate_params
    integer(c_int32_t) :: max_new_tokens
    real(c_float) :: temperature
    integer(c_int32_t) :: top_k
    real(c_float) :: top_p
    integer(c_int64_t) :: seed
  end type

  interface
    subroutine sci_infer_options_init(options) bind(c, name="sci_infer_options_init")
      import :: sci_infer_options
      type(sci_infer_options), intent(out) :: options
    end subroutine
    subroutine c_generate_params_init(params) bind(c, name="sci_infer_generate_params_init")
      import :: c_generate_params
      type(c_generate_params), intent(out) :: params
    end subroutine
    integer(c_int) function c_create_f(path, options, comm, engine) bind(c, name="sci_infer_engine_create_f")
      import :: c_char, c_ptr, c_int
      character(kind=c_char), intent(in) :: path(*)
      type(c_ptr), value :: options
      integer(c_int), value :: comm
      type(c_ptr), intent(out) :: engine
    end function
    integer(c_int) function c_close(engine) bind(c, name="sci_infer_engine_close")
      import :: c_ptr, c_int
      type(c_ptr), value :: engine
    end function
    integer(c_int) function c_destroy(engine) bind(c, name="sci_infer_engine_destroy")
      import :: c_ptr, c_int
      type(c_ptr), value :: engine
    end function
    integer(c_int) function c_dims(engine, n_vocab, d_model, context) bind(c, name="sci_infer_engine_dims")
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), value :: engine
      integer(c_int32_t), intent(out) :: n_vocab, d_model, context
    end function
    integer(c_int) function c_tokenize(engine, text, text_len, add_special, ids, capacity, required) &
        bind(c, name="sci_infer_tokenize")
      import :: c_ptr, c_int, c_int64_t, c_char
      type(c_ptr), value :: engine
      character(kind=c_char), intent(in) :: text(*)
      integer(c_int64_t), value :: text_len, capacity
      integer(c_int), value :: add_special
      type(c_ptr), value :: ids
      integer(c_int64_t), intent(out) :: required
    end function
    integer(c_int) function c_detokenize(engine, ids, n_ids, text, capacity, required) &
        bind(c, name="sci_infer_detokenize")
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: engine, ids, text
      integer(c_int64_t), value :: n_ids, capacity
      integer(c_int64_t), intent(out) :: required
    end function
    integer(c_int) function c_embed(engine, input, vectors, capacity, required) bind(c, name="sci_infer_embed")
      import :: c_ptr, c_int, c_int64_t, c_input
      type(c_ptr), value :: engine, vectors
      type(c_input), intent(in) :: input
      integer(c_int64_t), value :: capacity
      integer(c_int64_t), intent(out) :: required
    end function
    integer(c_int) function c_score(engine, input, logprobs, capacity, required, counts) bind(c, name="sci_infer_score")
      import :: c_ptr, c_int, c_int64_t, c_input
      type(c_ptr), value :: engine, logprobs, counts
      type(c_input), intent(in) :: input
      integer(c_int64_t), value :: capacity
      integer(c_int64_t), intent(out) :: required
    end function
    integer(c_int) function c_generate(engine, input, params, tokens, logprobs, capacity, required, counts) &
        bind(c, name="sci_infer_generate")
      import :: c_ptr, c_int, c_int64_t, c_input, c_generate_params
      type(c_ptr), value :: engine, tokens, logprobs, counts
      type(c_input), intent(in) :: input
      type(c_generate_params), intent(in) :: params
      integer(c_int64_t), value :: capacity
      integer(c_int64_t), intent(out) :: required
    end function
    type(c_ptr) function c_last_error(engine) bind(c, name="sci_infer_last_error")
      import :: c_ptr
      type(c_ptr), value :: engine
    end function
    type(c_ptr) function c_status_name(status) bind(c, name="sci_infer_status_name")
      import :: c_ptr, c_int
      integer(c_int), value :: status
    end function
    type(c_ptr) function c_version() bind(c, name="sci_infer_version")
      import :: c_ptr
    end function
    type(c_ptr) function c_kokkos() bind(c, name="sci_infer_kokkos")
      import :: c_ptr
    end function
    type(c_ptr) function c_device() bind(c, name="sci_infer_device")
      import :: c_ptr
    end function
    integer(c_size_t) function c_strlen(s) bind(c, name="strlen")
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
    end function
  end interface

  ! Embedding rows (vectors(d_model, rows)) or token ids as input.
  interface sci_infer_embed
    module procedure embed_vectors, embed_tokens
  end interface

  public :: sci_infer_options_init, sci_infer_options_set_gemm, sci_infer_create, sci_infer_close, &
            sci_infer_destroy, sci_infer_dims, sci_infer_tokenize, sci_infer_detokenize, sci_infer_embed, &
            sci_infer_score, sci_infer_generate, sci_infer_last_error, sci_infer_status_name, sci_infer_version, &
            sci_infer_kokkos, sci_infer_device

contains

  ! options%gemm = name (NUL-terminated); a name of 16 characters or more is left unterminated,
  ! which the engine reports as an error.
  subroutine sci_infer_options_set_gemm(options, name)
    type(sci_infer_options), intent(inout) :: options
    character(len=*), intent(in) :: name
    integer :: i
    options%gemm = c_null_char
    do i = 1, min(len_trim(name), size(options%gemm))
      options%gemm(i) = name(i:i)
    end do
  end subroutine

  ! Collective over comm (a Fortran communicator handle).
  subroutine sci_infer_create(engine, model_path, comm, ierr, options)
    type(sci_infer_engine), intent(out) :: engine
    character(len=*), intent(in) :: model_path
    integer, intent(in) :: comm
    integer, intent(out) :: ierr
    type(sci_infer_options), intent(in), optional, target :: options
    type(c_ptr) :: opt
    opt = c_null_ptr
    if (present(options)) opt = c_loc(options)
    ierr = c_create_f(trim(model_path) // c_null_char, opt, int(comm, c_int), engine%handle)
  end subroutine

  subroutine sci_infer_close(engine, ierr)
    type(sci_infer_engine), intent(in) :: engine
    integer, intent(out) :: ierr
    ierr = c_close(engine%handle)
  end subroutine

  ! The handle keeps pointing at the destroyed engine's tombstone, so later calls report it.
  subroutine sci_infer_destroy(engine, ierr)
    type(sci_infer_engine), intent(in) :: engine
    integer, intent(out) :: ierr
    ierr = c_destroy(engine%handle)
  end subroutine

  subroutine sci_infer_dims(engine, n_vocab, d_model, context, ierr)
    type(sci_infer_engine), intent(in) :: engine
    integer, intent(out) :: n_vocab, d_model, context, ierr
    integer(c_int32_t) :: v, d, c
    ierr = c_dims(engine%handle, v, d, c)
    n_vocab = v
    d_model = d
    context = c
  end subroutine

  ! ids is allocated to the text's token count (the C size query, then the call).
  subroutine sci_infer_tokenize(engine, text, ids, ierr, add_special)
    type(sci_infer_engine), intent(in) :: engine
    character(len=*), intent(in) :: text
    integer(c_int32_t), allocatable, target, intent(out) :: ids(:)
    integer, intent(out) :: ierr
    logical, intent(in), optional :: add_special
    integer(c_int) :: special
    integer(c_int64_t) :: required, capacity
    special = 1
    if (present(add_special)) then
      if (.not. add_special) special = 0
    end if
    ierr = c_tokenize(engine%handle, text // c_null_char, int(len(text), c_int64_t), special, c_null_ptr, &
                      0_c_int64_t, required)
    if (ierr /= SCI_INFER_OK) return
    allocate(ids(required))
    if (required == 0) return
    capacity = required  ! not `required` twice: a by-value and an intent(out) argument must not alias
    ierr = c_tokenize(engine%handle, text // c_null_char, int(len(text), c_int64_t), special, c_loc(ids), &
                      capacity, required)
  end subroutine

  subroutine sci_infer_detokenize(engine, ids, text, ierr)
    type(sci_infer_engine), intent(in) :: engine
    integer(c_int32_t), intent(in), target, contiguous :: ids(:)
    character(len=:), allocatable, intent(out) :: text
    integer, intent(out) :: ierr
    character(kind=c_char), allocatable, target :: buffer(:)
    integer(c_int64_t) :: required, capacity, i
    text = ""
    ierr = c_detokenize(engine%handle, array_loc_i(ids), size(ids, kind=c_int64_t), c_null_ptr, 0_c_int64_t, &
                        required)
    if (ierr /= SCI_INFER_OK) return
    allocate(buffer(required))
    capacity = required
    ierr = c_detokenize(engine%handle, array_loc_i(ids), size(ids, kind=c_int64_t), c_loc(buffer), capacity, &
                        required)
    if (ierr /= SCI_INFER_OK) return
    text = repeat(" ", required - 1)
    do i = 1, required - 1
      text(i:i) = buffer(i)
    end do
  end subroutine

  ! vectors(d_model, sum(rows)): rows(i) embedding rows for sequence i; out(d_model, size(rows)).
  subroutine embed_vectors(engine, vectors, rows, out, ierr, first_id)
    type(sci_infer_engine), intent(in) :: engine
    real(c_float), intent(in), target, contiguous :: vectors(:, :)
    integer(c_int32_t), intent(in), target, contiguous :: rows(:)
    real(c_float), intent(inout), target, contiguous :: out(:, :)
    integer, intent(out) :: ierr
    integer(c_int64_t), intent(in), optional :: first_id
    type(c_input) :: input
    integer(c_int64_t) :: required
    input%n = size(rows)
    if (present(first_id)) input%first_id = first_id
    input%embeddings = array_loc_r2(vectors)
    input%embedding_rows = array_loc_i(rows)
    ierr = c_embed(engine%handle, input, out_loc_r2(out), size(out, kind=c_int64_t), required)
  end subroutine

  ! tokens: counts(i) ids for sequence i, one after the other; out(d_model, size(counts)).
  subroutine embed_tokens(engine, tokens, counts, out, ierr, first_id)
    type(sci_infer_engine), intent(in) :: engine
    integer(c_int32_t), intent(in), target, contiguous :: tokens(:), counts(:)
    real(c_float), intent(inout), target, contiguous :: out(:, :)
    integer, intent(out) :: ierr
    integer(c_int64_t), intent(in), optional :: first_id
    type(c_input) :: input
    integer(c_int64_t) :: required
    input = token_input(tokens, counts, first_id)
    ierr = c_embed(engine%handle, input, out_loc_r2(out), size(out, kind=c_int64_t), required)
  end subroutine

  ! logprobs: one per token after the first of each sequence; out_counts(i) of them for sequence i.
  subroutine sci_infer_score(engine, tokens, counts, logprobs, ierr, out_counts, first_id)
    type(sci_infer_engine), intent(in) :: engine
    integer(c_int32_t), intent(in), target, contiguous :: tokens(:), counts(:)
    real(c_float), intent(inout), target, contiguous :: logprobs(:)
    integer, intent(out) :: ierr
    integer(c_int32_t), intent(inout), target, contiguous, optional :: out_counts(:)
    integer(c_int64_t), intent(in), optional :: first_id
    type(c_input) :: input
    type(c_ptr) :: counts_ptr
    integer(c_int64_t) :: required
    input = token_input(tokens, counts, first_id)
    counts_ptr = c_null_ptr
    if (present(out_counts)) then
      if (size(out_counts) < size(counts)) then
        ierr = SCI_INFER_ERR_BUFFER_TOO_SMALL  ! the C call cannot see this array's size
        return
      end if
      counts_ptr = c_loc(out_counts)
    end if
    ierr = c_score(engine%handle, input, out_loc_r1(logprobs), size(logprobs, kind=c_int64_t), required, counts_ptr)
  end subroutine

  ! out_tokens(max_new_tokens, size(counts)): max_new_tokens is the array's first extent;
  ! out_counts(i) ids were generated for sequence i (-1 if it failed).
  subroutine sci_infer_generate(engine, tokens, counts, out_tokens, out_counts, ierr, temperature, top_k, top_p, &
                                seed, first_id)
    type(sci_infer_engine), intent(in) :: engine
    integer(c_int32_t), intent(in), target, contiguous :: tokens(:), counts(:)
    integer(c_int32_t), intent(inout), target, contiguous :: out_tokens(:, :), out_counts(:)
    integer, intent(out) :: ierr
    real, intent(in), optional :: temperature, top_p
    integer, intent(in), optional :: top_k
    integer(c_int64_t), intent(in), optional :: seed, first_id
    type(c_input) :: input
    type(c_generate_params) :: params
    integer(c_int64_t) :: required
    if (size(out_counts) < size(counts)) then
      ierr = SCI_INFER_ERR_BUFFER_TOO_SMALL  ! the C call cannot see this array's size
      return
    end if
    input = token_input(tokens, counts, first_id)
    call c_generate_params_init(params)
    params%max_new_tokens = int(size(out_tokens, 1), c_int32_t)
    if (present(temperature)) params%temperature = temperature
    if (present(top_k)) params%top_k = top_k
    if (present(top_p)) params%top_p = top_p
    if (present(seed)) params%seed = seed
    ierr = c_generate(engine%handle, input, params, out_loc_i2(out_tokens), c_null_ptr, &
                      size(out_tokens, kind=c_int64_t), required, c_loc(out_counts))
  end subroutine

  ! The message of the engine's last failed call, or (no engine) this thread's last failure.
  function sci_infer_last_error(engine) result(message)
    type(sci_infer_engine), intent(in), optional :: engine
    character(len=:), allocatable :: message
    if (present(engine)) then
      message = from_c(c_last_error(engine%handle))
    else
      message = from_c(c_last_error(c_null_ptr))
    end if
  end function

  function sci_infer_status_name(status) result(name)
    integer, intent(in) :: status
    character(len=:), allocatable :: name
    name = from_c(c_status_name(int(status, c_int)))
  end function

  function sci_infer_version() result(version)
    character(len=:), allocatable :: version
    version = from_c(c_version())
  end function

  ! "Kokkos 4.6.1 Cuda/CudaSpace": the build's Kokkos and where its kernels run.
  function sci_infer_kokkos() result(text)
    character(len=:), allocatable :: text
    text = from_c(c_kokkos())
  end function

  ! "host", or e.g. "cuda:0 NVIDIA H200 (sm_90)" once an engine exists.
  function sci_infer_device() result(text)
    character(len=:), allocatable :: text
    text = from_c(c_device())
  end function

  ! ---- helpers ----

  function token_input(tokens, counts, first_id) result(input)
    integer(c_int32_t), intent(in), target, contiguous :: tokens(:), counts(:)
    integer(c_int64_t), intent(in), optional :: first_id
    type(c_input) :: input
    input%n = size(counts)
    if (present(first_id)) input%first_id = first_id
    input%tokens = array_loc_i(tokens)
    input%token_counts = array_loc_i(counts)
  end function

  ! C pointers to array data; NULL for an empty array (whose address means nothing).
  type(c_ptr) function array_loc_i(a)
    integer(c_int32_t), intent(in), target, contiguous :: a(:)
    array_loc_i = c_null_ptr
    if (size(a) > 0) array_loc_i = c_loc(a)
  end function
  type(c_ptr) function array_loc_r2(a)
    real(c_float), intent(in), target, contiguous :: a(:, :)
    array_loc_r2 = c_null_ptr
    if (size(a) > 0) array_loc_r2 = c_loc(a)
  end function

  ! C pointers to output arrays; the never-written placeholders when empty (see empty_floats).
  type(c_ptr) function out_loc_i2(a)
    integer(c_int32_t), intent(in), target, contiguous :: a(:, :)
    out_loc_i2 = c_loc(empty_ints)
    if (size(a) > 0) out_loc_i2 = c_loc(a)
  end function
  type(c_ptr) function out_loc_r1(a)
    real(c_float), intent(in), target, contiguous :: a(:)
    out_loc_r1 = c_loc(empty_floats)
    if (size(a) > 0) out_loc_r1 = c_loc(a)
  end function
  type(c_ptr) function out_loc_r2(a)
    real(c_float), intent(in), target, contiguous :: a(:, :)
    out_loc_r2 = c_loc(empty_floats)
    if (size(a) > 0) out_loc_r2 = c_loc(a)
  end function

  ! A copy of a NUL-terminated C string.
  function from_c(p) result(s)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: s
    character(kind=c_char), pointer :: chars(:)
    integer(c_size_t) :: n, i
    if (.not. c_associated(p)) then
      s = ""
      return
    end if
    n = c_strlen(p)
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: s)
    do i = 1, n
      s(i:i) = chars(i)
    end do
  end function

end module sci_infer
