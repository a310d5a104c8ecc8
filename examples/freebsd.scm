;; A small FreeBSD system from FreeBSD's distribution sets (base.txz and
;; kernel.txz, from FRUIX_FREEBSD_DIST or /usr/freebsd-dist; write
;; (freebsd-base (dist-directory "/path")) to name the directory here).
;; One operator account, syslogd, cron, and sshd on port 22.
(use-modules (fruix system) (fruix services))

(define alice
  (user-account
    (name "alice")
    (uid 1001)
    (group "wheel")
    (supplementary-groups (list "operators"))
    (comment "Alice the operator")))

(define my-freebsd-system
  (operating-system
    (host-name "fruix-freebsd")
    (base (freebsd-base))
    (groups (list (user-group (name "operators") (gid 1100))))
    (users (list alice))
    (services
      (list (service syslogd-service-type)
            (service crond-service-type)
            (service sshd-service-type
                     (sshd-configuration (port 22)))))))
