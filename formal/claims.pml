/* The paper's Scyther claims, per authentication and key mode, against a Dolev-Yao
   attacker who owns the broker. formal/check.py builds it once per mode and scenario.

   Mode (-DMODE=n): 1 psk, 2 mldsa, 3 kem-psk, 4 kem, 5 qkd (psk auth, Kq instead of
   ML-KEM), 6 qkd+mlkem (psk auth, Kq and ML-KEM). What keys a session's MACs and
   traffic keys depend on, as in dthq/protocol/handshake.py:
     PSK  the device's PSK (psk, kem-psk, qkd, qkd+mlkem)
     EPH  the ephemeral ML-KEM secret of (ct, share)
     SB   the secret A encapsulated to B's static KEM key in HELLO (kem-psk, kem)
     SA   the secret B encapsulated to A's static KEM key in REPLY (kem)
     KQ   Kq, which Q hands to A and to B by its key id (qkd modes); never on the wire
     SIG  ML-DSA signatures by A (FINISH) and B (REPLY) over the transcript (mldsa)

   Symbolic cryptography: a flight's tag (its MAC, and its signature in mldsa mode) is
   the pair (whose PSK, transcript digest), plus the signer; it can be made only by
   someone who knows every secret the key is derived from (and the signer's key). The
   digest covers the device id, nA, share, key id, ciphertexts and nB, so a tag fits
   exactly one transcript.

   Agents: A (device) runs at most one session, with B (its configured service), or
   none. B runs two sessions; it serves A and M, a device the attacker registered
   (so M's PSK, signing key and static KEM key are the attacker's).
   Attacker (Dolev-Yao over the broker, within BUDGET actions): every flight goes
   through him; he reads it (learning its nonces), drops it, delivers it late, again,
   or to another session; tampers with a HELLO (his share, his ciphertext to B's
   static key, M's id); builds HELLOs of his own; and builds a REPLY or FINISH with a
   valid tag whenever he knows every secret the tag needs. Forged flights carry his
   own nonce nM (nonces are public; the tag, not the nonce, gates forgery).
   -DKCI_A: he also holds A's long-term keys (the PSK, A's ML-DSA key, A's static KEM
   key, whichever the mode has); -DKCI_B: B's (the PSK, B's ML-DSA key, B's static KEM
   key).

   Claims, at the end of the claimant's role, for an honest partner (Lowe 1997,
   "A hierarchy of authentication specifications"; Nisynch after Cremers et al.):
   - secrecy of t: the attacker never knows t (the session key: every secret it is
     derived from);
   - alive (A): when A completes, apparently with B, B has been running the protocol;
   - weakagree (A): ... B has been running the protocol, apparently with A;
   - niagree (A): ... B has been running with A, as responder, and they agree on
     nA, nB and every input of the session key (share, key id, ciphertexts);
   - nisynch (A): every flight A received before its claim was sent by B's session,
     exactly as A received it, after B received exactly the flights A sent;
   - the same for B at its completion, with A the partner; B's injective agreement
     (one B completion per A run: the replay claim).
   A violated claim reaches its FAIL site (below); claims.py reads which sites spin
   found unreachable: those claims hold within the bounds.
*/

#ifndef MODE
#define MODE 1
#endif
#define PSK (MODE == 1 || MODE == 3 || MODE == 5 || MODE == 6)
#define SIG (MODE == 2)
#define EPH (MODE != 5)
#define SB (MODE == 3 || MODE == 4)
#define SA (MODE == 4)
#define KQ (MODE == 5 || MODE == 6)
#ifndef BUDGET
#define BUDGET 4
#endif

#define A 1
#define B 2
#define M 3
/* nonces */
#define NA 1
#define NM 4         /* the attacker's; B's session j uses 2 + j */
/* values of the share, key id and static-KEM fields: 1 = A's, 2 = the attacker's */
#define OWN 1
#define ATT 2
/* ciphertexts: 1 + j made by B's session j; 3 made by the attacker */
#define CT_M 3
/* REPLY's ciphertext to the device's static key: 1 + j B's session j to A, 3 the
   attacker's to A, 4 + j B's session j to M */

mtype = { HELLO, REPLY, FINISH };

/* claims */
#define SEC_KEY_A 0
#define SEC_NA_A 1
#define SEC_NB_A 2
#define SEC_KQ_A 3
#define ALIVE_A 4
#define WEAK_A 5
#define NIAGREE_A 6
#define NISYNCH_A 7
#define SEC_KEY_B 8
#define SEC_NA_B 9
#define SEC_NB_B 10
#define SEC_KQ_B 11
#define ALIVE_B 12
#define WEAK_B 13
#define NIAGREE_B 14
#define NISYNCH_B 15
#define INJECTIVE_B 16
#define DONE_A 17        /* not a claim: A can complete (the claims are not vacuous) */
#define DONE_B 18

/* A violated claim k reaches the statement assert(k != target). check.py reads which
   of those spin found unreachable (those claims hold), then reruns pan with TRAIL=k in
   the environment to get a trail for a reached one (spin -t replays it, target 255). */
#ifndef TARGET
#define TARGET 255
#endif
byte target = TARGET;   /* check.py's weakened variants fix it at compile time */
/* -DUNSIGNED_REPLY (a weakened variant): A does not check B's signature in mldsa mode */
#ifdef UNSIGNED_REPLY
#define A_CHECKS_SIG 0
#else
#define A_CHECKS_SIG SIG
#endif
#define FAIL(k) assert(k != target)

/* long-term keys the attacker holds */
#ifdef KCI_A
#define K_PSK_A PSK
#define K_SIG_A SIG
#define K_KEM_A SA
#else
#define K_PSK_A 0
#define K_SIG_A 0
#define K_KEM_A 0
#endif
#ifdef KCI_B
#define K_SIG_B SIG
#define K_KEM_B SB
#define K_PSK_B PSK
#else
#define K_SIG_B 0
#define K_KEM_B 0
#define K_PSK_B 0
#endif

/* what the attacker knows */
#define knows_psk(p) ((p) == M || ((p) == A && (K_PSK_A || K_PSK_B)))
#define knows_sig(s) ((s) == M || ((s) == A && K_SIG_A) || ((s) == B && K_SIG_B))
#define knows_eph(ct, sh) ((sh) == ATT || (ct) == CT_M)
#define knows_sb(cb) ((cb) == ATT || K_KEM_B)
#define knows_sa(ca) ((ca) >= 3 || K_KEM_A)
#define knows_key(p, ct, sh, cb, ca) ((!PSK || knows_psk(p)) && (!EPH || knows_eph(ct, sh)) \
    && (!SB || knows_sb(cb)) && (!SA || knows_sa(ca)) && !KQ)

#define digest(id, na, sh, cb, nb, ct, ca) \
  ((((((id) * 8 + (na)) * 4 + (sh)) * 4 + (cb)) * 8 + (nb)) * 4 + (ct)) * 8 + (ca)

/* tg: the digest the tag covers (REPLY: the digest; FINISH: digest + 1 << 20);
   tp: whose PSK keys it (0: none); ts: the signer (0: none) */
typedef msg { mtype t; byte id; byte na; byte nb; byte sh; byte cb; byte ct; byte ca;
              int tg; byte tp; byte ts };
#define FIN (1 << 20)

msg seen[4]; byte n;            /* every flight on the broker: the attacker reads it at once */
chan to_a = [1] of { msg };
chan to_b0 = [1] of { msg };
chan to_b1 = [1] of { msg };

/* ghost state */
bool att_n[5];                   /* nonces the attacker has seen */
bool a_started;
bool a_done;
byte a_nb, a_ct, a_ca; int a_tg;   /* the REPLY A accepted */
byte a_rp, a_rs;
bool b_replied[2]; bool b_done[2];
byte b_id[2], b_na[2], b_sh[2], b_cb[2], b_ct[2], b_ca[2];
byte b_commits;

#define copy(d, s) d.t = s.t; d.id = s.id; d.na = s.na; d.nb = s.nb; d.sh = s.sh; \
  d.cb = s.cb; d.ct = s.ct; d.ca = s.ca; d.tg = s.tg; d.tp = s.tp; d.ts = s.ts
#define send_att(m) copy(seen[n], m); n++; att_n[m.na] = true; att_n[m.nb] = true

proctype Device() {
  msg h; msg r; msg f;
  if
  :: skip
  :: goto end_idle   /* A may never run: B's aliveness is then not given for free */
  fi;
  h.t = HELLO; h.id = A; h.na = NA;
  if :: (EPH || KQ) -> h.sh = OWN :: else -> skip fi;
  if :: SB -> h.cb = OWN :: else -> skip fi;
  atomic {
    a_started = true;
    printf("MSC: A -> broker: HELLO(A, nA, share %d, ctB %d)\n", h.sh, h.cb);
    send_att(h)
  };
end_wait:
  to_a ? r;
  if
  :: (r.t == REPLY && r.id == B
      && r.tg == digest(A, NA, h.sh, h.cb, r.nb, r.ct, r.ca)
      && r.tp == (PSK -> A : 0) && (!A_CHECKS_SIG || r.ts == B)) ->
     atomic {
     printf("MSC: A accepts REPLY(nB=%d, ct=%d, ca=%d) and claims\n", r.nb, r.ct, r.ca);
     a_nb = r.nb; a_ct = r.ct; a_ca = r.ca; a_tg = r.tg; a_rp = r.tp; a_rs = r.ts;
     a_done = true;
     FAIL(DONE_A);
     if :: knows_key(A, r.ct, h.sh, h.cb, r.ca) -> FAIL(SEC_KEY_A) :: else -> skip fi;
     if :: att_n[NA] -> FAIL(SEC_NA_A) :: else -> skip fi;
     if :: att_n[r.nb] -> FAIL(SEC_NB_A) :: else -> skip fi;
     /* Kq: Q gives it only to A and B; no flight carries it */
     if :: !(b_replied[0] || b_replied[1]) -> FAIL(ALIVE_A) :: else -> skip fi;
     if :: !((b_replied[0] && b_id[0] == A) || (b_replied[1] && b_id[1] == A)) -> FAIL(WEAK_A)
        :: else -> skip fi;
#define AGREE_A(j) (b_replied[j] && b_id[j] == A && b_na[j] == NA && b_sh[j] == h.sh \
                    && b_cb[j] == h.cb && 2 + j == r.nb && b_ct[j] == r.ct && b_ca[j] == r.ca)
     if :: !(AGREE_A(0) || AGREE_A(1)) -> FAIL(NIAGREE_A) :: else -> skip fi;
     /* B's REPLY carries its own tag: equal fields and tag = the very flight B sent */
#define SYNC_A(j) (AGREE_A(j) && r.tp == (PSK -> A : 0) && r.ts == (SIG -> B : 0))
     if :: !(SYNC_A(0) || SYNC_A(1)) -> FAIL(NISYNCH_A) :: else -> skip fi;
     f.t = FINISH; f.id = A; f.na = NA; f.nb = r.nb; f.sh = h.sh; f.cb = h.cb; f.ct = r.ct;
     f.ca = r.ca; f.tg = r.tg + FIN; f.tp = r.tp; f.ts = (SIG -> A : 0);
     printf("MSC: A -> broker: FINISH\n");
     send_att(f)
     }
  :: else -> printf("MSC: A rejects the REPLY\n")
  fi;
end_idle:
  skip
}

proctype Service(byte j; chan inbox) {
  msg h; msg r; msg f; int tg;
end_hello:
  inbox ? h;
  if
  :: h.t == HELLO && (h.id == A || h.id == M) && (MODE != 5 || h.sh == OWN) ->
     /* qkd: Q knows only A's key id (the attacker is no SAE of Q); in qkd+mlkem the
        key id is implicit, always A's (any other is refused), and sh is the share */
     atomic {
     b_id[j] = h.id; b_na[j] = h.na; b_sh[j] = h.sh; b_cb[j] = h.cb;
     b_ct[j] = (EPH -> 1 + j : 0);
     b_ca[j] = (SA -> (h.id == A -> 1 + j : 4 + j) : 0);
     b_replied[j] = true;
     tg = digest(h.id, h.na, h.sh, h.cb, 2 + j, b_ct[j], b_ca[j]);
     r.t = REPLY; r.id = B; r.na = h.na; r.nb = 2 + j; r.sh = h.sh; r.cb = h.cb;
     r.ct = b_ct[j]; r.ca = b_ca[j]; r.tg = tg; r.tp = (PSK -> h.id : 0);
     r.ts = (SIG -> B : 0);
     printf("MSC: B%d -> broker: REPLY(nB%d) to %d\n", j, j, h.id);
     send_att(r)
     }
end_finish:
     inbox ? f;
     if
     :: (f.t == FINISH && f.tg == tg + FIN && f.tp == (PSK -> h.id : 0)
         && f.ts == (SIG -> h.id : 0)) ->
        atomic {
        printf("MSC: B%d accepts FINISH from %d and claims\n", j, h.id);
        b_done[j] = true;
        if
        :: h.id == A ->    /* claims are for an honest partner */
           b_commits++;
           FAIL(DONE_B);
           if :: knows_key(A, b_ct[j], h.sh, h.cb, b_ca[j]) -> FAIL(SEC_KEY_B) :: else -> skip fi;
           if :: att_n[h.na] -> FAIL(SEC_NA_B) :: else -> skip fi;
           if :: att_n[2 + j] -> FAIL(SEC_NB_B) :: else -> skip fi;
           /* A's only service is B: weak agreement is aliveness here */
           if :: !a_started -> FAIL(ALIVE_B); FAIL(WEAK_B) :: else -> skip fi;
           if
           :: !(a_done && h.na == NA && a_nb == 2 + j && h.sh == ((EPH || KQ) -> OWN : 0)
                && h.cb == (SB -> OWN : 0) && a_ct == b_ct[j] && a_ca == b_ca[j]) ->
              FAIL(NIAGREE_B)
           :: else -> skip
           fi;
           if
           :: !(a_done && h.na == NA && a_tg == tg && a_rp == r.tp && a_rs == r.ts
                && f.ts == (SIG -> A : 0)) ->
              FAIL(NISYNCH_B)
           :: else -> skip
           fi;
           if :: b_commits > a_done -> FAIL(INJECTIVE_B) :: else -> skip fi
        :: else -> skip
        fi
        }
     :: else -> printf("MSC: B%d rejects the FINISH\n", j)
     fi
  :: else -> printf("MSC: B%d rejects the HELLO\n", j)
  fi
}

#define forgeable_finish(v) (b_replied[v] && !b_done[v] \
    && knows_key(b_id[v], b_ct[v], b_sh[v], b_cb[v], b_ca[v]) && (!SIG || knows_sig(b_id[v])))
#define clear(m) m.t = 0; m.id = 0; m.na = 0; m.nb = 0; m.sh = 0; m.cb = 0; m.ct = 0; \
  m.ca = 0; m.tg = 0; m.tp = 0; m.ts = 0

/* Each action is atomic, and leaves no trace in his locals (fewer states, same runs). */
proctype Attacker() {
  msg m; byte i; byte budget = BUDGET;
end_listen:
  do
  :: n > 0 && budget > 0 ->   /* deliver a flight seen, as it is or tampered, to anyone */
     atomic {
     budget--;
     select(i : 0 .. n - 1);
     copy(m, seen[i]);
     if
     :: m.t == HELLO ->
        if
        :: skip
        :: EPH -> m.sh = ATT                /* his own ML-KEM share */
        :: SB -> m.cb = ATT                 /* his own ciphertext to B's static key */
        :: m.id = M
        fi
     :: else -> skip
     fi;
     if
     :: to_a ! m -> printf("MSC: broker -> A: %e (flight %d)\n", m.t, i)
     :: to_b0 ! m -> printf("MSC: broker -> B0: %e (flight %d, id %d, share %d, ctB %d)\n", m.t, i, m.id, m.sh, m.cb)
     :: to_b1 ! m -> printf("MSC: broker -> B1: %e (flight %d, id %d, share %d, ctB %d)\n", m.t, i, m.id, m.sh, m.cb)
     fi;
     clear(m); i = 0
     }
  :: budget > 0 ->             /* a HELLO of his own, as A or as M */
     atomic {
     budget--;
     m.t = HELLO; m.na = NM;
     m.sh = (EPH -> ATT : (KQ -> OWN : 0)); m.cb = (SB -> ATT : 0);
     if :: m.id = A :: m.id = M fi;
     if
     :: to_b0 ! m -> printf("MSC: M -> B0: HELLO(id %d, nM, share %d, ctB %d)\n", m.id, m.sh, m.cb)
     :: to_b1 ! m -> printf("MSC: M -> B1: HELLO(id %d, nM, share %d, ctB %d)\n", m.id, m.sh, m.cb)
     fi;
     clear(m)
     }
  :: budget > 0 && a_started && !a_done ->  /* a REPLY to A, if he can make its tag */
     atomic {
     m.t = REPLY; m.id = B; m.na = NA; m.nb = NM; m.sh = ((EPH || KQ) -> OWN : 0);
     m.cb = (SB -> OWN : 0);
     if :: m.ct = (EPH -> 1 : 0) :: EPH -> m.ct = 2 :: EPH -> m.ct = CT_M fi;
     if :: m.ca = (SA -> 1 : 0) :: SA -> m.ca = 3 fi;
     if
     :: knows_key(A, m.ct, m.sh, m.cb, m.ca) && (!A_CHECKS_SIG || knows_sig(B)) ->
        budget--;
        m.tg = digest(A, NA, m.sh, m.cb, NM, m.ct, m.ca); m.tp = (PSK -> A : 0);
        m.ts = (SIG -> B : 0);
        printf("MSC: M -> A: forged REPLY(nM, ct %d, ca %d)\n", m.ct, m.ca);
        to_a ! m
     :: else -> skip
     fi;
     clear(m)
     }
  :: budget > 0 && forgeable_finish(0) ->   /* a FINISH whose tag he can make */
     atomic {
     budget--;
     m.t = FINISH; m.tp = (PSK -> b_id[0] : 0); m.ts = (SIG -> b_id[0] : 0);
     m.tg = digest(b_id[0], b_na[0], b_sh[0], b_cb[0], 2, b_ct[0], b_ca[0]) + FIN;
     printf("MSC: M -> B0: forged FINISH as %d\n", b_id[0]);
     to_b0 ! m;
     clear(m)
     }
  :: budget > 0 && forgeable_finish(1) ->
     atomic {
     budget--;
     m.t = FINISH; m.tp = (PSK -> b_id[1] : 0); m.ts = (SIG -> b_id[1] : 0);
     m.tg = digest(b_id[1], b_na[1], b_sh[1], b_cb[1], 3, b_ct[1], b_ca[1]) + FIN;
     printf("MSC: M -> B1: forged FINISH as %d\n", b_id[1]);
     to_b1 ! m;
     clear(m)
     }
  :: timeout -> break
  od
}

init {
  atomic {
    c_code { if (getenv("TRAIL")) now.target = atoi(getenv("TRAIL")); };
    att_n[NM] = true;
    run Device(); run Service(0, to_b0); run Service(1, to_b1); run Attacker()
  }
}
