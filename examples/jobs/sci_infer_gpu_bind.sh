#!/bin/bash
# sci_infer_gpu_bind.sh cuda|ze COMMAND...: runs COMMAND (one MPI rank) with only "its" GPU
# visible, chosen by the rank's index on its node. Used by the job scripts when
# SCI_INFER_DEVICE=gpu. (sci-infer has no GPU engine yet: today this only fixes which device a
# rank would use; the rank computes on the CPU.)
#
#   cuda  CUDA_VISIBLE_DEVICES: one GPU per rank, GPUs numbered opposite to the CPU cores, as on
#         Polaris (GPU 3 is closest to cores 0-7, GPU 0 to cores 24-31: ALCF's
#         set_affinity_gpu_polaris.sh does the same)
#   ze    ZE_AFFINITY_MASK: one Intel GPU tile per rank, compact (ranks 0,1 on GPU 0's two tiles,
#         ...): the tile is a device of its own in Level Zero's FLAT hierarchy (the default), or
#         GPU.TILE with ZE_FLAT_DEVICE_HIERARCHY=COMPOSITE. On Aurora prefer ALCF's
#         gpu_tile_compact.sh, which aurora.pbs uses when it is installed.
set -eu
mode=$1
shift
# The launcher's local rank: PALS (PBS mpiexec on Cray), Slurm, MPICH hydra, Open MPI.
local_rank=${PALS_LOCAL_RANKID:-${SLURM_LOCALID:-${MPI_LOCALRANKID:-${OMPI_COMM_WORLD_LOCAL_RANK:-}}}}
if [ -z "$local_rank" ]; then
  echo "sci_infer_gpu_bind.sh: no local rank (PALS_LOCAL_RANKID, SLURM_LOCALID, MPI_LOCALRANKID) set" >&2
  exit 2
fi
case $mode in
  cuda)
    n_gpus=${SCI_INFER_GPUS_PER_NODE:-4}
    export CUDA_VISIBLE_DEVICES=$((n_gpus - 1 - local_rank % n_gpus)) ;;
  ze)
    tiles=${SCI_INFER_TILES_PER_GPU:-2}
    if [ "${ZE_FLAT_DEVICE_HIERARCHY:-FLAT}" = COMPOSITE ]; then
      export ZE_AFFINITY_MASK=$((local_rank / tiles)).$((local_rank % tiles))
    else
      export ZE_AFFINITY_MASK=$local_rank
    fi ;;
  *) echo "sci_infer_gpu_bind.sh: mode must be cuda or ze, not '$mode'" >&2; exit 2 ;;
esac
exec "$@"
