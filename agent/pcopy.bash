# bash completion for pcopy(8)                                -*- shell-script -*-
#
# Subcommands and options are read from the installed pcopy itself
# ("pcopy --help" and "pcopy CMD --help"), so they cannot drift from the
# program; tracked pids come from "pcopy list", any pid from /proc.

_pcopy_commands()
{
	"$1" --help 2>/dev/null | awk '/^commands:/ { on = 1; next } on && NF { print $1 }'
}

_pcopy_options()	# PCOPY CMD
{
	"$1" "$2" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

_pcopy_tracked()	# PCOPY
{
	"$1" list 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }'
}

_pcopy()
{
	local cur prev pcopy cmd i n
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	pcopy=${COMP_WORDS[0]}
	COMPREPLY=()

	# the subcommand: the first word after pcopy that is not an option
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [ -z "$cmd" ]; then
		case $cur in
		-*) COMPREPLY=($(compgen -W "-j --json -h --help -V --version" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "$(_pcopy_commands "$pcopy")" -- "$cur")) ;;
		esac
		return 0
	fi

	# after "run ... --": the command to run, then its own arguments
	for ((n = i + 1; n < COMP_CWORD; n++)); do
		if [ "$cmd" = run ] && [ "${COMP_WORDS[n]}" = -- ]; then
			if [ "$n" = $((COMP_CWORD - 1)) ]; then
				COMPREPLY=($(compgen -c -- "$cur"))
			else
				COMPREPLY=($(compgen -f -- "$cur"))
			fi
			return 0
		fi
	done

	case $prev in
	-o | --output | --json | --mem-file | --state-file | --mem-out | --vmm-control | \
	--handoff | --manifest | --plot)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0 ;;
	--cgroup)
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0 ;;
	--comm)
		COMPREPLY=($(compgen -W "qemu-system-x86_64 firecracker cloud-hypervisor" -- "$cur"))
		return 0 ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_pcopy_options "$pcopy" "$cmd")" -- "$cur"))
		return 0
	fi

	# the first argument that is not an option
	n=0
	for ((i = i + 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == -* ]] || n=$((n + 1))
	done
	case $cmd in
	track)
		[ "$n" = 0 ] && COMPREPLY=($(compgen -W "$(cd /proc && echo [0-9]*)" -- "$cur")) ;;
	untrack | stats | reset | watch | record)
		[ "$n" = 0 ] && COMPREPLY=($(compgen -W "$(_pcopy_tracked "$pcopy")" -- "$cur")) ;;
	vcpu)
		if [ "$n" = 0 ]; then
			COMPREPLY=($(compgen -W "$(_pcopy_tracked "$pcopy")" -- "$cur"))
		elif [ "$n" = 1 ] && [ -d "/proc/$prev/task" ]; then
			COMPREPLY=($(compgen -W "$(cd "/proc/$prev/task" && echo [0-9]*)" -- "$cur"))
		elif [ "$n" = 2 ]; then
			COMPREPLY=($(compgen -W "none" -- "$cur"))
		fi ;;
	auto)
		[ "$n" = 0 ] && COMPREPLY=($(compgen -W "on off" -- "$cur")) ;;
	report)
		[ "$n" = 0 ] && COMPREPLY=($(compgen -f -- "$cur")) ;;
	run)
		COMPREPLY=($(compgen -c -- "$cur")) ;;
	esac
	return 0
}
complete -F _pcopy pcopy
