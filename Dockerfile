# sharefs container image: the release binary on debian:bookworm-slim with fuse3.
#
# Build (from the repository root):
#   docker build -t sharefs .
#
# Run: serve host dir /host/dir (seen as /data in the container) at /mnt inside
# the container, in the foreground; `docker stop` sends SIGTERM and sharefs
# unmounts cleanly:
#   docker run --rm -it --device /dev/fuse --cap-add SYS_ADMIN \
#       --security-opt apparmor:unconfined -v /host/dir:/data sharefs mount /data /mnt
#
# Why each flag:
#   --device /dev/fuse       the FUSE character device the daemon opens to talk
#                            to the kernel; containers do not get it by default.
#   --cap-add SYS_ADMIN      mount(2) of the FUSE file system needs CAP_SYS_ADMIN,
#                            whether sharefs calls it directly or through
#                            fusermount3; Docker drops it by default.
#   --security-opt apparmor:unconfined
#                            Docker's default AppArmor profile denies mount(2)
#                            even with SYS_ADMIN (hosts without AppArmor ignore it).
#   -v /host/dir:/data       the backing directory; files written through /mnt
#                            land here.
#   --rm -it                 remove the container on exit; Ctrl-C reaches
#                            sharefs as SIGINT and unmounts.
# sharefs runs as PID 1 and handles SIGINT/SIGTERM itself, so no --init is
# needed for a clean unmount on `docker stop`.
# Other programs in the same container see the mount (docker exec CONTAINER ls
# /mnt). To expose it to the host, bind a host dir with shared propagation,
# e.g. -v /host/mnt:/mnt:rshared, and mount there (needs a shared host mount).
#
# Outside Docker, tests/docker-steps.sh performs the same steps (binary from a
# local build, library check, --version, mount/unmount smoke test).

# ---- stage 1: build ------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
# The whole tree (minus .dockerignore): Cargo checks every target the manifest
# names, and a build.rs may be added. --locked = exactly Cargo.lock.
COPY . .
RUN cargo build --release --locked --bin sharefs \
    && strip target/release/sharefs

# ---- stage 2: runtime ----------------------------------------------------------
FROM debian:bookworm-slim
# fuse3: fusermount3 (unmount, non-root mounts) and /etc/fuse.conf. sharefs
# uses the pure-Rust fuser crate, so no libfuse is linked.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fuse3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sharefs /usr/local/bin/sharefs
# Conventional mount target and backing volume.
RUN mkdir -p /mnt /data
ENTRYPOINT ["sharefs"]
CMD ["--help"]
