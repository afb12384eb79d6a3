! In-situ inference from a Fortran simulation, through the installed `sci_infer` module: the
! Fortran twin of heat_insitu.cpp. A 2-D heat equation runs on all ranks; every K steps each rank
! reduces its rows to `bands` embedding vectors (block means, d_model wide), odd ranks hand them to
! their even neighbour, and the even ranks (the sub-communicator holding the model) embed them.
! When the embedding moved a lot since the last look the next look comes sooner, when it hardly
! moved later. At the end: time in simulation vs in inference.
!
!   mpiexec -n 2 heat_insitu_f model.gguf [steps]
program heat_insitu_f
  use, intrinsic :: iso_c_binding, only: c_float, c_int32_t
  use mpi
  use sci_infer
  implicit none

  integer, parameter :: nx = 256, ny = 64, bands = 4, min_every = 5, max_every = 80
  real(8), parameter :: alpha = 0.2d0, moved = 2d-2, still = 2d-3
  real(8) :: u(nx, 0:ny + 1), next(nx, 0:ny + 1)
  real(c_float), allocatable :: view(:, :), batch(:, :), emb(:, :), previous(:, :)
  integer(c_int32_t) :: rows(2)
  type(sci_infer_engine) :: engine
  character(len=512) :: model, arg
  integer :: ierr, rank, nranks, color, infer_comm, partner, nseq, d_model, n_vocab, context
  integer :: steps, step, every, next_look, looks, ok, all_ok, s
  real(8) :: t0, t_sim, t_infer, drift, local, times(2), max_times(2)
  logical :: infers

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nranks, ierr)
  call get_command_argument(1, model)
  steps = 600
  if (command_argument_count() > 1) then
    call get_command_argument(2, arg)
    read (arg, *) steps
  end if

  ! Even ranks hold the model; odd rank r sends its view to r - 1.
  infers = mod(rank, 2) == 0
  color = MPI_UNDEFINED
  if (infers) color = 0
  call MPI_Comm_split(MPI_COMM_WORLD, color, rank, infer_comm, ierr)
  if (infers) then
    partner = -1
    if (rank + 1 < nranks) partner = rank + 1
  else
    partner = rank - 1
  end if

  ! Collective over infer_comm; every rank learns whether it worked before going on.
  ok = 1
  d_model = 0
  if (infers) then
    call sci_infer_create(engine, model, infer_comm, ierr)
    if (ierr == SCI_INFER_OK) call sci_infer_dims(engine, n_vocab, d_model, context, ierr)
    if (ierr /= SCI_INFER_OK) then
      print '(a, i0, 2a)', "rank ", rank, ": cannot load the model: ", sci_infer_last_error()
      ok = 0
    end if
  end if
  call MPI_Allreduce(ok, all_ok, 1, MPI_INTEGER, MPI_MIN, MPI_COMM_WORLD, ierr)
  if (all_ok == 0) then
    call MPI_Finalize(ierr)
    stop 1
  end if
  call MPI_Bcast(d_model, 1, MPI_INTEGER, 0, MPI_COMM_WORLD, ierr)

  nseq = 1
  if (infers .and. partner >= 0) nseq = 2
  allocate(view(d_model, bands), batch(d_model, bands * nseq), emb(d_model, nseq), previous(d_model, nseq))
  rows = bands
  u = 0
  next = 0
  t_sim = 0
  t_infer = 0
  every = 20
  next_look = every
  looks = 0
  do step = 1, steps
    t0 = MPI_Wtime()
    call heat_step()
    t_sim = t_sim + MPI_Wtime() - t0
    if (step /= next_look) cycle

    t0 = MPI_Wtime()
    call coarse_view()
    drift = 0
    if (.not. infers) then
      call MPI_Send(view, size(view), MPI_REAL, partner, 7, MPI_COMM_WORLD, ierr)
    else
      batch(:, 1:bands) = view
      if (nseq == 2) call MPI_Recv(batch(:, bands + 1:), size(view), MPI_REAL, partner, 7, MPI_COMM_WORLD, &
                                   MPI_STATUS_IGNORE, ierr)
      call sci_infer_embed(engine, batch, rows(1:nseq), emb, ierr)
      if (ierr /= SCI_INFER_OK) then
        print '(a, i0, 2a)', "rank ", rank, ": embedding failed: ", sci_infer_last_error(engine)
        call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
      end if
      if (looks > 0) then
        do s = 1, nseq
          drift = max(drift, cosine_distance(previous(:, s), emb(:, s)))
        end do
      end if
      previous = emb
      local = drift
      call MPI_Allreduce(local, drift, 1, MPI_DOUBLE_PRECISION, MPI_MAX, infer_comm, ierr)
    end if
    call MPI_Bcast(drift, 1, MPI_DOUBLE_PRECISION, 0, MPI_COMM_WORLD, ierr)
    t_infer = t_infer + MPI_Wtime() - t0

    ! Act on the answer.
    if (looks > 0 .and. drift > moved) every = max(min_every, every / 2)
    if (looks > 0 .and. drift < still) every = min(max_every, every * 2)
    looks = looks + 1
    next_look = step + every
    if (rank == 0) print '(a, i4, a, es10.3, a, i0, a)', "step ", step, ": embedding drift ", drift, &
      " -> next look in ", every, " steps"
  end do

  times = [t_sim, t_infer]
  call MPI_Reduce(times, max_times, 2, MPI_DOUBLE_PRECISION, MPI_MAX, 0, MPI_COMM_WORLD, ierr)
  if (rank == 0) print '(a, f8.3, a, f8.3, a, f5.1, a, i0, a)', "time: simulation", max_times(1), &
    " s, inference", max_times(2), " s (", 100 * max_times(2) / sum(max_times), "% of the loop), ", looks, " looks"
  if (infers) then
    call sci_infer_destroy(engine, ierr)
    call MPI_Comm_free(infer_comm, ierr)
  end if
  call MPI_Finalize(ierr)

contains

  ! One explicit step with halo exchange; zero boundaries; a hot spot on rank 0 held at 1.
  subroutine heat_step()
    integer :: up, down, i, j
    up = MPI_PROC_NULL
    down = MPI_PROC_NULL
    if (rank > 0) up = rank - 1
    if (rank + 1 < nranks) down = rank + 1
    call MPI_Sendrecv(u(:, 1), nx, MPI_DOUBLE_PRECISION, up, 0, u(:, ny + 1), nx, MPI_DOUBLE_PRECISION, down, 0, &
                      MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
    call MPI_Sendrecv(u(:, ny), nx, MPI_DOUBLE_PRECISION, down, 1, u(:, 0), nx, MPI_DOUBLE_PRECISION, up, 1, &
                      MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
    do j = 1, ny
      do i = 1, nx
        next(i, j) = u(i, j) + alpha * (edge(i - 1, j) + edge(i + 1, j) + u(i, j - 1) + u(i, j + 1) - 4 * u(i, j))
      end do
    end do
    u(:, 1:ny) = next(:, 1:ny)
    if (rank == 0) u(nx / 4:nx / 4 + nx / 8, ny / 4:ny / 4 + ny / 8) = 1
  end subroutine

  real(8) function edge(i, j)
    integer, intent(in) :: i, j
    edge = 0
    if (i >= 1 .and. i <= nx) edge = u(i, j)
  end function

  ! view(c, b): mean of column block c of row band b (zero when the block is empty).
  subroutine coarse_view()
    integer :: b, c, i0, i1, j0, j1
    do b = 1, bands
      j0 = 1 + (b - 1) * ny / bands
      j1 = b * ny / bands
      do c = 1, d_model
        i0 = 1 + (c - 1) * nx / d_model
        i1 = c * nx / d_model
        view(c, b) = 0
        if (i1 >= i0) view(c, b) = real(sum(u(i0:i1, j0:j1)) / ((i1 - i0 + 1) * (j1 - j0 + 1)), c_float)
      end do
    end do
  end subroutine

  real(8) function cosine_distance(a, b)
    real(c_float), intent(in) :: a(:), b(:)
    real(8) :: ab, aa, bb
    ab = dot_product(real(a, 8), real(b, 8))
    aa = dot_product(real(a, 8), real(a, 8))
    bb = dot_product(real(b, 8), real(b, 8))
    cosine_distance = 0
    if (aa > 0 .and. bb > 0) cosine_distance = 1 - ab / sqrt(aa * bb)
  end function

end program
