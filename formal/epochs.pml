/* The record layer's receive epochs (dthq/protocol/record.py) over a lossy, reordering,
   duplicating link.

   The sender seals N records, R per key epoch. The link loses at most MAXLOSS records in
   a row, holds up to two records in flight and may deliver the second first (REORDERS
   times), and may deliver DUPS records twice. The receiver accepts epochs up to LOOKAHEAD
   ahead (adopting one only when its record verifies; forged records are the AEAD's
   business, not modelled here); every epoch it passes over stays open for late records
   until GRACE more records have been accepted, each epoch with its own replay state.

   Claims (assertions, and no invalid end state = no deadlock):
   - with 2 * MAXLOSS + 1 < LOOKAHEAD * R (a loss burst on each side of a record that is
     overtaken) and
     GRACE > REORDERS (a late record is overtaken at most REORDERS times), every genuine
     record delivered is accepted, however the link loses and reorders: losing whole
     epochs never kills the session (the defaults in record.py: look-ahead 4 epochs of
     up to 2^20 records, grace 64 records);
   - no record is accepted twice;
   - the receive epoch never goes back, and once the link is drained it is the epoch of
     the newest record delivered.
   The version-1 receiver (-DLOOKAHEAD=1 -DGRACE=0: only epoch+1, no epoch kept open)
   must FAIL these claims, as must a receiver without the grace period (-DGRACE=0), a
   grace shorter than the reordering (-DGRACE=2) and a look-ahead too short for the loss
   (-DLOOKAHEAD=3).
*/

#ifndef N
#define N 10
#endif
#define R 2
#ifndef LOOKAHEAD
#define LOOKAHEAD 4
#endif
#ifndef MAXLOSS
#define MAXLOSS 3
#endif
#ifndef GRACE
#define GRACE 3
#endif
#define DUPS 1
#define REORDERS 2

chan link = [2] of { byte, byte };   /* epoch, sequence */

bool sender_done = false;
byte max_epoch = 0;    /* of the records delivered to the link */
bool delivered_any = false;

proctype Sender() {
  byte i = 0; byte lost = 0; byte dups = DUPS;
  do
  :: i < N ->
     if
     :: lost < MAXLOSS -> lost++                       /* the link loses it */
     :: atomic { link ! (i / R), (i % R) -> lost = 0;
                 if :: i / R > max_epoch -> max_epoch = i / R :: else -> skip fi;
                 delivered_any = true }
     :: dups > 0 && lost == 0 && i > 0 ->              /* ... or repeats the last one */
        atomic { dups--; link ! ((i - 1) / R), ((i - 1) % R) }; i--
     fi;
     i++
  :: i == N -> break
  od;
  sender_done = true
}

proctype Receiver() {
  byte cur = 0; byte total = 0;   /* records accepted, all epochs */
  byte closed_at[N];              /* per epoch left behind: `total` when it was; 255 = open */
  bool accepted[N];
  byte k;
  byte e; byte s; byte idx; byte before; byte reorders = REORDERS;
end_listen:
  do
  :: atomic { reorders > 0 && len(link) == 2 ->        /* the link swaps two records */
       reorders--; link ? e, s; link ! e, s }
  :: link ? e, s ->
     idx = e * R + s;
     before = cur;
     if
     :: e == cur -> skip
     :: e > cur && e - cur <= LOOKAHEAD ->              /* adopt: it verified */
        k = cur;                                        /* every epoch passed over stays */
        do :: k < e -> closed_at[k] = total; k++ :: else -> break od;   /* open for its grace */
        cur = e
     :: e < cur && closed_at[e] != 255 && total - closed_at[e] < GRACE ->
        skip                                           /* late, within its grace */
     :: else ->
        /* rejected as stale or too far ahead: only ever a duplicate may land here */
        assert(accepted[idx]); goto next
     fi;
     if
     :: accepted[idx] -> skip                          /* replay window: a duplicate */
     :: else ->
        accepted[idx] = true;
        total++
     fi;
     assert(cur >= before);
next:
     skip
  :: timeout ->
     assert(sender_done && len(link) == 0);
     assert(!delivered_any || cur == max_epoch);
     break
  od
}

init { atomic { run Sender(); run Receiver() } }
