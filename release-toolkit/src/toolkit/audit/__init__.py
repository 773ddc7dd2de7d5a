"""The audit before a swap: the idle slot's output on production's last load, against the live slot's."""
