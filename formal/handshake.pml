/* The DTHQ three-flight handshake (psk mode) against an active network attacker.

   A (device) and B (service) share PSK. HELLO carries A's nonce nA, its ephemeral
   ML-KEM share and the suite; REPLY carries B's nonce nB, the KEM ciphertext ct and
   B's MAC; FINISH carries A's MAC. Every MAC covers the whole transcript so far (the
   model's digest of (nA, share, suite, nB, ct)) under a key derived from the PSK and
   the KEM secret of ct. Cryptography is perfect (symbolic): a MAC can be made only by
   whoever knows its key; the KEM secret of ct is known to B (who made ct), to the
   owner of the share it was made for, and to the attacker when the share is his own
   or he made ct himself.

   The attacker sees every flight and may drop it, deliver it late, out of order, more
   than once, to another session, or build new flights from what he knows. A runs one
   session, B two (so a flight can be spliced or replayed across sessions).

   Claims (assertions):
   - Alive / non-injective agreement: when B completes, A ran a session with B with the
     same nA, nB, share, ct and suite (so no downgrade either); and symmetrically for A.
   - Injective agreement (Nisynch): B's nonce is fresh per session, so a B completion
     matching A's single run is unique (checked by counting).
   With -DCOMPROMISED the attacker knows the PSK: the claims must then FAIL (a
   man-in-the-middle substitutes his own share), which shows the model can find attacks.
   With -DREACH, B's completion is asserted unreachable: that must FAIL too, which shows
   the honest run is possible and the claims are not vacuous.
*/

#define A_ID 1
#define B_ID 2
#define M_ID 3          /* the attacker's own identity */
#define PSK 1
#define SUITE_STRONG 2
#define SUITE_WEAK 1
#define ATT_SHARE 9     /* a KEM share whose secret key the attacker holds */
#define NCT 24

mtype = { HELLO, REPLY, FINISH };

typedef msg { mtype t; byte id; byte na; byte nb; byte share; byte ct; byte suite; int mkey; int dig };

chan to_att = [3] of { msg };
chan to_a = [1] of { msg };
chan to_b0 = [1] of { msg };
chan to_b1 = [1] of { msg };

bool att_ss[NCT];       /* the attacker knows the KEM secret of ct */
#ifdef COMPROMISED
bool att_psk = true;
#else
bool att_psk = false;
#endif

/* ghost state for the claims */
byte a_done = 0;                 /* A completed */
byte a_na, a_nb, a_share, a_ct, a_suite;
bool a_finish_sent = false;      /* A sent FINISH: its view below is final */
bool b_replied[2];               /* B session j sent REPLY */
byte b_na[2], b_nb[2], b_share[2], b_ct[2], b_suite[2];
byte b_commits = 0;

#define key(c) (PSK * 100 + (c))
#define digest(na, sh, su, nb, c) (((((na) * 10 + (sh)) * 4 + (su)) * 10 + (nb)) * NCT + (c))

proctype Device() {
  msg m; msg r; msg f;
  m.t = HELLO; m.id = A_ID; m.na = 1; m.share = 1; m.suite = SUITE_STRONG;
  to_att ! m;
end_wait:
  do
  :: to_a ? r ->
     if
     :: (r.t == REPLY && r.id == B_ID && r.mkey == key(r.ct)
         && r.dig == digest(1, 1, SUITE_STRONG, r.nb, r.ct)) ->
        /* A completes: B must have run with exactly this transcript */
        assert((b_replied[0] && b_na[0] == 1 && b_nb[0] == r.nb && b_share[0] == 1
                && b_ct[0] == r.ct && b_suite[0] == SUITE_STRONG)
            || (b_replied[1] && b_na[1] == 1 && b_nb[1] == r.nb && b_share[1] == 1
                && b_ct[1] == r.ct && b_suite[1] == SUITE_STRONG));
        a_na = 1; a_nb = r.nb; a_share = 1; a_ct = r.ct; a_suite = SUITE_STRONG;
        a_finish_sent = true;
        a_done++;
        f.t = FINISH; f.id = A_ID; f.na = 1; f.nb = r.nb; f.share = 1; f.ct = r.ct;
        f.suite = SUITE_STRONG; f.mkey = key(r.ct);
        f.dig = digest(1, 1, SUITE_STRONG, r.nb, r.ct) + 1;  /* FINISH's own digest */
        to_att ! f;
        break
     :: else -> break   /* a bad REPLY closes the machine, as the real one does */
     fi
  od
}

proctype Service(byte j; chan inbox) {
  msg h; msg r; msg f; byte nb = 3 + j; byte ct = 10 + j;
end_hello:
  inbox ? h;
  if
  :: h.t == HELLO && h.id == A_ID && (h.suite == SUITE_STRONG || h.suite == SUITE_WEAK) ->
     if :: h.share == ATT_SHARE -> att_ss[ct] = true :: else -> skip fi;
     b_na[j] = h.na; b_nb[j] = nb; b_share[j] = h.share; b_ct[j] = ct; b_suite[j] = h.suite;
     b_replied[j] = true;
     r.t = REPLY; r.id = B_ID; r.na = h.na; r.nb = nb; r.share = h.share; r.ct = ct;
     r.suite = h.suite; r.mkey = key(ct); r.dig = digest(h.na, h.share, h.suite, nb, ct);
     to_att ! r;
end_finish:
     inbox ? f;
     if
     :: (f.t == FINISH && f.mkey == key(ct)
         && f.dig == digest(h.na, h.share, h.suite, nb, ct) + 1) ->
        /* B completes: A must have run with exactly this transcript */
        assert(a_finish_sent && a_na == h.na && a_nb == nb && a_share == h.share
               && a_ct == ct && a_suite == h.suite);
        b_commits++;
        assert(b_commits <= a_done);  /* injective: one completion per A run */
#ifdef REACH
        assert(false)   /* the honest run completes: with -DREACH this must be reached */
#else
        skip
#endif
     :: else -> skip
     fi
  :: else -> skip
  fi
}

/* Dolev-Yao within a finite domain: keeps what it sees, replays, reorders, drops, forges. */
#ifndef BUDGET
#define BUDGET 5        /* flights the attacker may deliver or forge in one run */
#endif

proctype Attacker() {
  msg seen[3]; byte n = 0; msg m; byte i; byte v; byte budget = BUDGET;
end_listen:
  do
  :: to_att ? m -> d_step { if :: n < 3 -> seen[n].t = m.t; seen[n].id = m.id; seen[n].na = m.na;
                        seen[n].nb = m.nb; seen[n].share = m.share; seen[n].ct = m.ct;
                        seen[n].suite = m.suite; seen[n].mkey = m.mkey; seen[n].dig = m.dig;
                        n++
                     :: else -> skip fi }
  :: n > 0 && budget > 0 ->  /* deliver (again) any flight seen, to anyone: replay, reorder, splice */
     budget--;
     select(i : 0 .. n - 1);
     m.t = seen[i].t; m.id = seen[i].id; m.na = seen[i].na; m.nb = seen[i].nb;
     m.share = seen[i].share; m.ct = seen[i].ct; m.suite = seen[i].suite;
     m.mkey = seen[i].mkey; m.dig = seen[i].dig;
     if
     :: seen[i].t == HELLO && n < 3 ->   /* tamper: downgrade the suite, or swap the share */
        if :: m.suite = SUITE_WEAK :: m.share = ATT_SHARE :: skip fi
     :: else -> skip
     fi;
     if :: to_a ! m :: to_b0 ! m :: to_b1 ! m :: skip fi
  :: n > 0 && budget > 0 ->  /* forge a MAC'd flight: only under a key the attacker knows */
     budget--;
     select(i : 0 .. n - 1);
     select(v : 10 .. 11);
     if
     :: att_psk && att_ss[v] ->
        m.t = FINISH; m.id = A_ID; m.na = seen[i].na; m.nb = 3 + (v - 10); m.share = seen[i].share;
        m.ct = v; m.suite = seen[i].suite; m.mkey = key(v);
        m.dig = digest(m.na, m.share, m.suite, m.nb, v) + 1;
        if :: to_b0 ! m :: to_b1 ! m fi
     :: else -> skip
     fi
  :: timeout -> break
  od
}

init {
  atomic {
    run Device(); run Service(0, to_b0); run Service(1, to_b1); run Attacker()
  }
}
