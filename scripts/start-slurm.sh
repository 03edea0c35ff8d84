#!/usr/bin/env bash
# Single-node SLURM 22.05 (Debian 12) for local tests / CI. Run as root; no systemd needed.
#   SLURM_ROOT  state/logs/pids/fake-GPU dir   (default /tmp/slurm)
#   FAKE_GPUS   fake GPUs advertised as gpu:fake:N (default 2)
#   WITH_DBD=1  also run MariaDB + slurmdbd so sacct/sacctmgr work (default 0)
set -euo pipefail
S=${SLURM_ROOT:-/tmp/slurm}; NGPU=${FAKE_GPUS:-2}; WITH_DBD=${WITH_DBD:-0}
export DEBIAN_FRONTEND=noninteractive
PKGS="slurm-wlm munge"; [ "$WITH_DBD" = 1 ] && PKGS="$PKGS slurmdbd mariadb-server"
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
fi
mkdir -p "$S"/ctld "$S"/d "$S"/log "$S"/dev /etc/slurm
CPUS=$(nproc); MEM=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 1024 ))
# 22.05 drops GPU gres without File=; any char device works (c 1 3 == /dev/null)
for i in $(seq 0 $((NGPU-1))); do [ -e "$S/dev/fakegpu$i" ] || mknod "$S/dev/fakegpu$i" c 1 3; done
if [ "$WITH_DBD" = 1 ]; then
  ACCT=$'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\nAccountingStorageTRES=gres/gpu\nJobAcctGatherType=jobacct_gather/linux'
else
  ACCT=$'AccountingStorageType=accounting_storage/none\nJobAcctGatherType=jobacct_gather/none'
fi
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
$ACCT
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
ReturnToService=2
MinJobAge=600
StateSaveLocation=$S/ctld
SlurmdSpoolDir=$S/d
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:fake:$NGPU State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF
if [ "$NGPU" -gt 1 ]; then F="$S/dev/fakegpu[0-$((NGPU-1))]"; else F="$S/dev/fakegpu0"; fi
echo "NodeName=localhost Name=gpu Type=fake File=$F" > /etc/slurm/gres.conf
# munge (Debian's postinst already created /etc/munge/munge.key)
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge
munge -n >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
if [ "$WITH_DBD" = 1 ]; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if ! mariadb -e 'select 1' >/dev/null 2>&1; then
    nohup /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
      --pid-file=/run/mysqld/mysqld.pid >"$S/log/mariadb.log" 2>&1 &
    for _ in $(seq 1 60); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  cat > /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$S/slurmdbd.pid
LogFile=$S/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
  chmod 600 /etc/slurm/slurmdbd.conf
  slurmdbd
  for _ in $(seq 1 30); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 0.5; done
fi
slurmctld              # forks; pid in $S/slurmctld.pid
slurmd -N localhost    # node name independent of the machine's hostname
for _ in $(seq 1 30); do sinfo -h -o %T 2>/dev/null | grep -qx idle && break; sleep 1; done
if [ "$WITH_DBD" = 1 ]; then   # slurmctld registers cluster "local" itself
  sacctmgr -i add account proj1 >/dev/null 2>&1 || true
  sacctmgr -i add user "$(id -un)" account=proj1 >/dev/null 2>&1 || true
fi
sinfo
