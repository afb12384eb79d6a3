! The Fortran module `sci_infer` over the C API, under mpiexec -n 2: every routine, and the misuse
! paths a Fortran caller can reach (bad path, NULL / closed / destroyed engine, short arrays).
!   mpiexec -n 2 test_capi_fortran model.gguf
program test_capi_fortran
  use, intrinsic :: iso_c_binding
  use mpi
  use sci_infer
  implicit none

  integer, parameter :: D = 64
  type(sci_infer_engine) :: engine, never_created
  type(sci_infer_options) :: options
  character(len=512) :: model
  integer :: ierr, mpierr, rank, failures, total, n_vocab, d_model, context, i, j
  integer(c_int32_t), allocatable :: ids(:)
  integer(c_int32_t) :: counts(2), rows(2), out_counts(2), gen(6, 2)
  real(c_float) :: vectors(D, 5), out(D, 2), small(D, 1), logprobs(16)
  character(len=:), allocatable :: text

  call MPI_Init(mpierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, mpierr)
  failures = 0
  call get_command_argument(1, model)

  call check(len(sci_infer_version()) > 0, "version")
  call check(index(sci_infer_kokkos(), "Kokkos ") == 1, "kokkos description")
  call check(sci_infer_status_name(SCI_INFER_ERR_CLOSED) == "SCI_INFER_ERR_CLOSED", "status name")

  ! Creation errors.
  call sci_infer_create(engine, "/nonexistent/fortran.gguf", MPI_COMM_WORLD, ierr)
  call expect(ierr, SCI_INFER_ERR_LOAD, sci_infer_last_error(), "/nonexistent/fortran.gguf", "bad path")
  call sci_infer_options_init(options)
  call sci_infer_options_set_gemm(options, "no-such-gemm")
  call sci_infer_create(engine, model, MPI_COMM_WORLD, ierr, options)
  call expect(ierr, SCI_INFER_ERR_ARGUMENT, sci_infer_last_error(), "no-such-gemm", "bad gemm")
  call sci_infer_options_init(options)
  call check(options%device == SCI_INFER_DEVICE_AUTO, "device default")
  options%device = -5
  call sci_infer_create(engine, model, MPI_COMM_WORLD, ierr, options)
  call expect(ierr, SCI_INFER_ERR_ARGUMENT, sci_infer_last_error(), "device", "bad device")
  call sci_infer_options_init(options)
  call sci_infer_options_set_gemm(options, "a-name-longer-than-16-chars")
  call sci_infer_create(engine, model, MPI_COMM_WORLD, ierr, options)
  call expect(ierr, SCI_INFER_ERR_ARGUMENT, sci_infer_last_error(), "NUL-terminated", "unterminated gemm")

  ! A never-created (NULL) engine.
  call sci_infer_dims(never_created, n_vocab, d_model, context, ierr)
  call expect(ierr, SCI_INFER_ERR_HANDLE, sci_infer_last_error(never_created), "NULL", "NULL engine")

  ! A working engine.
  call sci_infer_options_init(options)
  options%threads = 1
  call sci_infer_options_set_gemm(options, "fixed")
  call sci_infer_create(engine, model, MPI_COMM_WORLD, ierr, options)
  call expect(ierr, SCI_INFER_OK, "", "", "create")
  call sci_infer_dims(engine, n_vocab, d_model, context, ierr)
  call check(ierr == SCI_INFER_OK .and. n_vocab == 512 .and. d_model == D .and. context == 256, "dims")

  call sci_infer_tokenize(engine, "The ocean", ids, ierr)
  call check(ierr == SCI_INFER_OK .and. size(ids) >= 2, "tokenize")
  call sci_infer_detokenize(engine, ids, text, ierr)
  call check(ierr == SCI_INFER_OK .and. text == "The ocean", "detokenize round trip")
  call sci_infer_detokenize(engine, [5_c_int32_t, 99999_c_int32_t], text, ierr)
  call expect(ierr, SCI_INFER_ERR_ARGUMENT, sci_infer_last_error(engine), "ids[1] is 99999", "bad id")

  ! Embed: vectors(D, rows) input, out(D, n).
  do i = 1, 5
    vectors(:, i) = [(0.01 * real(mod(7 * ((i - 1) * D + j), 23) - 11), j = 0, D - 1)]
  end do
  rows = [3, 2]
  call sci_infer_embed(engine, vectors, rows, out, ierr)
  call check(ierr == SCI_INFER_OK .and. all(abs(out) < huge(1.0)), "embed vectors")
  call sci_infer_embed(engine, vectors, rows, small, ierr)
  call expect(ierr, SCI_INFER_ERR_BUFFER_TOO_SMALL, sci_infer_last_error(engine), "128 are needed", "embed short out")
  call sci_infer_embed(engine, vectors, rows, out(:, 1:0), ierr)
  call expect(ierr, SCI_INFER_ERR_BUFFER_TOO_SMALL, sci_infer_last_error(engine), "128 are needed", "embed empty out")

  ! Token inputs: embed, score, generate.
  counts = [size(ids), size(ids)]
  call sci_infer_embed(engine, [ids, ids], counts, out, ierr)
  call check(ierr == SCI_INFER_OK .and. all(out(:, 1) == out(:, 2)), "embed tokens, same sequence twice")
  call sci_infer_score(engine, [ids, ids], counts, logprobs, ierr, out_counts)
  call check(ierr == SCI_INFER_OK .and. all(out_counts == size(ids) - 1), "score")
  call check(all(logprobs(1:2 * (size(ids) - 1)) <= 0.0), "score values are log-probabilities")
  call sci_infer_score(engine, [ids, ids], counts, logprobs(1:1), ierr)
  call expect(ierr, SCI_INFER_ERR_BUFFER_TOO_SMALL, sci_infer_last_error(engine), "needed", "score short out")
  call sci_infer_generate(engine, [ids, ids], counts, gen, out_counts, ierr, temperature=0.7, seed=3_c_int64_t)
  call check(ierr == SCI_INFER_OK .and. all(out_counts >= 1 .and. out_counts <= 6), "generate")
  call check(same_on_all_ranks(gen(:, 1), out_counts(1)), "sampled generation is the same on every rank")
  call sci_infer_generate(engine, [ids, 9999_c_int32_t], [size(ids), 1], gen, out_counts, ierr)
  call expect(ierr, SCI_INFER_ERR_REQUEST, sci_infer_last_error(engine), "sequence 1", "bad token id")
  call check(out_counts(1) >= 1 .and. out_counts(2) == -1, "failed sequence count is -1")

  ! Closed, then destroyed.
  call sci_infer_close(engine, ierr)
  call check(ierr == SCI_INFER_OK, "close")
  call sci_infer_embed(engine, vectors, rows, out, ierr)
  call expect(ierr, SCI_INFER_ERR_CLOSED, sci_infer_last_error(engine), "closed", "embed on closed engine")
  call sci_infer_destroy(engine, ierr)
  call check(ierr == SCI_INFER_OK, "destroy")
  call sci_infer_destroy(engine, ierr)
  call expect(ierr, SCI_INFER_ERR_HANDLE, sci_infer_last_error(engine), "destroyed", "double destroy")
  call sci_infer_tokenize(engine, "x", ids, ierr)
  call expect(ierr, SCI_INFER_ERR_HANDLE, sci_infer_last_error(engine), "destroyed", "tokenize on destroyed engine")

  call MPI_Allreduce(failures, total, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, mpierr)
  if (rank == 0) print '(a, i0, a)', "capi fortran: ", total, " failures"
  call MPI_Finalize(mpierr)
  if (total /= 0) error stop 1

contains

  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(len=*), intent(in) :: what
    if (.not. ok) then
      print '(a, i0, 2a)', "rank ", rank, ": FAILED: ", what
      failures = failures + 1
    end if
  end subroutine

  subroutine expect(got, want, message, needle, what)
    integer, intent(in) :: got, want
    character(len=*), intent(in) :: message, needle, what
    if (got /= want) then
      print '(a, i0, 6a)', "rank ", rank, ": FAILED: ", what, ": got ", sci_infer_status_name(got), &
        " message ", message
      failures = failures + 1
    else if (want /= SCI_INFER_OK .and. (len(message) == 0 .or. index(message, needle) == 0)) then
      print '(a, i0, 6a)', "rank ", rank, ": FAILED: ", what, ": message '", message, "' lacks ", needle
      failures = failures + 1
    end if
  end subroutine

  logical function same_on_all_ranks(values, n)
    integer(c_int32_t), intent(in) :: values(:)
    integer, intent(in) :: n
    integer(c_int32_t) :: root(size(values))
    integer :: same, all_same
    root = values
    call MPI_Bcast(root, size(values), MPI_INTEGER, 0, MPI_COMM_WORLD, mpierr)
    same = merge(1, 0, all(root(1:n) == values(1:n)))
    call MPI_Allreduce(same, all_same, 1, MPI_INTEGER, MPI_MIN, MPI_COMM_WORLD, mpierr)
    same_on_all_ranks = all_same == 1
  end function

end program
