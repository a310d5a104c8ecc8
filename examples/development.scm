;; A development-enabled system on the linux-busybox base: the runtime
;; profile as in minimal.scm, plus a separate development profile (gcc,
;; binutils, make and the C library's headers from Debian's packages) and
;; BusyBox's Debian source package as a store item, for native builds in the
;; guest (docs/native-builds.md). After boot:
;;   eval "$(fruix-development-environment)"; cc hello.c -o hello
(use-modules (fruix system) (fruix services))

(define development-system
  (operating-system
    (host-name "fruix-development")
    (base (linux-busybox-base))
    (development-profile (development-profile-configuration))
    (sources (list (debian-source-package (name "busybox"))))
    (services
      (list (service syslogd-service-type)
            (service getty-service-type
                     (getty-configuration (tty "ttyS0")))))))
