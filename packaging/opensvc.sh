# /etc/profile.d/opensvc.sh (svcmgr): each service is a command named after
# it in /etc/opensvc (`p26.opensvc.com start`). Appended, so that a service
# name can never shadow a system command.
case ":${PATH}:" in
*:/etc/opensvc:*) ;;
*) PATH="${PATH}:/etc/opensvc" ;;
esac
export PATH
